{% set plan = cookiecutter | plan %}
{% set working = plan.implementation == "openai-compatible" %}
"""The plugin's files are valid for the dify_plugin SDK and the Dify daemon, and agree with each other."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml
from dify_plugin.core.entities.plugin.setup import PluginConfiguration
from dify_plugin.entities.model.provider import ModelProviderConfiguration
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROVIDER_YAML = "provider/{{ plan.provider }}.yaml"
MODEL_TYPES = {{ plan.type_names | tojson }}
CONNECT_TIMEOUT = 10  # models/server/limits.py caps each connection attempt at 10 s


def load(path: str) -> dict:
    return yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def model_form() -> list[dict]:
    return (load(PROVIDER_YAML).get("model_credential_schema") or {}).get("credential_form_schemas", [])


def test_manifest_is_a_valid_plugin_configuration():
    manifest = PluginConfiguration(**load("manifest.yaml"))
    assert manifest.name == "{{ plan.provider }}"
    for icon in (manifest.icon, manifest.icon_dark):
        assert icon and (ROOT / "_assets" / icon).is_file()


def test_manifest_names_a_privacy_policy_that_ships():
    manifest = load("manifest.yaml")
    assert manifest["privacy"] == "PRIVACY.md"
    assert (ROOT / "PRIVACY.md").read_text(encoding="utf-8").startswith("# Privacy policy")


def test_repository_link_is_in_manifest_and_readme_or_in_neither():
    repo = load("manifest.yaml").get("repo")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if repo:
        assert re.fullmatch(r"https?://[^\s/]+/\S*", repo)
        assert f"]({repo})" in readme
    else:
        assert "## Source code" not in readme


def test_provider_yaml_is_valid_and_lists_existing_sources(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)  # predefined model globs are relative to the plugin root
    provider = ModelProviderConfiguration(**load(PROVIDER_YAML))
    assert [t.value for t in provider.supported_model_types] == MODEL_TYPES
    sources = [provider.extra.python.provider_source, *provider.extra.python.model_sources]
    assert all((ROOT / source).is_file() for source in sources)
    icons = (provider.icon_small, provider.icon_large, provider.icon_small_dark, provider.icon_large_dark)
    assert all(icon is not None and (ROOT / "_assets" / icon.en_us).is_file() for icon in icons)
{% if plan.predefined %}
    assert {m.model_type.value for m in provider.models} == set(MODEL_TYPES)


def test_each_type_names_its_position_file_as_the_daemon_reads_it(monkeypatch: pytest.MonkeyPatch):
    """The daemon orders predefined models only by `models.<type>.position`; the SDK's glob finds
    the same file in remote debugging, so both orders agree."""
    monkeypatch.chdir(ROOT)
    declared = load(PROVIDER_YAML)["models"]
    sdk = ModelProviderConfiguration(**load(PROVIDER_YAML))
    for folder, entry in declared.items():
        assert entry["position"] == f"models/{folder}/_position.yaml"
        order = load(entry["position"])
        files = [p for p in (ROOT / "models" / folder).glob("*.yaml") if p.name != "_position.yaml"]
        assert sorted(order) == sorted(load(p.relative_to(ROOT).as_posix())["model"] for p in files), folder
        assert getattr(sdk.position, folder) == order
{% endif %}


def test_fields_sharing_a_name_are_identical_but_for_show_on():
    """Dify's web form renders every field with the first entry of that name."""
    by_name: dict[str, list[dict]] = {}
    for field in model_form():
        by_name.setdefault(field["variable"], []).append({k: v for k, v in field.items() if k != "show_on"})
    for name, entries in by_name.items():
        assert all(entry == entries[0] for entry in entries), f"{name}: entries differ"
{% if plan.customizable %}


def test_request_timeouts_stay_within_the_runtimes_limit():
    """The longest silence a call may have (connect attempts, then request_timeout) is below the
    MAX_REQUEST_TIMEOUT after which the SDK's serverless runtime drops the call."""
    main = ast.parse((ROOT / "main.py").read_text(encoding="utf-8"))
    limit = next(
        node.value.value
        for node in main.body
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["MAX_REQUEST_TIMEOUT"]
    )
    fields = {field["variable"]: field for field in model_form()}

    def bounds(name: str) -> tuple[int, int, int]:
        low, high = map(int, re.match(r"(\d+) to (\d+)", fields[name]["placeholder"]["en_US"]).groups())
        return low, high, int(fields[name]["default"])

    timeout, retries = bounds("request_timeout"), bounds("max_retries")
    assert timeout[0] <= timeout[2] <= timeout[1] and retries[0] <= retries[2] <= retries[1]
    assert (retries[1] + 1) * CONNECT_TIMEOUT + timeout[1] < limit
{% endif %}
{% if plan.predefined and plan.customizable %}


def test_load_balancing_entries_of_predefined_models_need_no_model_uid():
    """Dify's load-balancing form for a predefined model is the model form: nothing there may be
    required that a predefined model does not have."""
    required = {field["variable"] for field in model_form() if field.get("required")}
    assert required == {"server_url"}
{% if working %}


FAKE_MODEL = {
    "llm": "chat-model",
    "text-embedding": "embed-model",
    "rerank": "rerank-model",
    "speech2text": "whisper",
    "tts": "tts-model",
    "moderation": "moderation-model",
}


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_a_model_without_model_uid_is_validated_under_its_own_name(model_type, plugin, server):
    results, error = plugin.call(
        "validate_model_credentials",
        model_type=model_type,
        model=FAKE_MODEL[model_type],
        credentials={"server_url": server.url, "request_timeout": "5", "max_retries": "0"},
    )
    assert error is None, error
    assert results[0]["result"] is True
    assert any(FAKE_MODEL[model_type] in r["path"] for r in server.requests()), server.requests()
{% endif %}
{% endif %}


def test_minimum_dify_version_is_the_one_the_sdk_range_needs():
    """dify_plugin's README maps SDK versions to the Dify release they need."""
    readme = importlib.metadata.metadata("dify_plugin").get_payload()
    table = re.findall(r"^\|\s*(\d+\.\d+\.\d+)\s*\|\s*([0-9a-z.\-]+)\s*\|", readme, flags=re.MULTILINE)
    assert table, "dify_plugin's README no longer has its minimum Dify version table"
    (sdk,) = [Requirement(d) for d in pyproject()["project"]["dependencies"] if d.startswith("dify_plugin")]
    lowest = min(Version(s.version) for s in sdk.specifier if s.operator == ">=")
    needed = max(Version(dify) for dify, sdk_version in table if Version(sdk_version) <= lowest)
    assert Version(load("manifest.yaml")["meta"]["minimum_dify_version"]) == needed


@cache
def installed_modules() -> dict[str, list[str]]:
    """Top-level module -> the installed distributions that provide it (read once: it scans them all)."""
    return importlib.metadata.packages_distributions()


def imported_distributions(paths: list[Path]) -> set[str]:
    """Distributions (canonical names) of the third-party modules these files import."""
    local = {p.stem for p in ROOT.glob("*.py")} | {p.name for p in ROOT.iterdir() if p.is_dir()}
    local |= {p.stem for p in (ROOT / "tests").glob("*.py")}
    providers = installed_modules()
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for top in {name.split(".")[0] for name in names} - local - set(sys.stdlib_module_names):
                assert top in providers, f"{path.name} imports {top}: no installed package has it"
                found |= {canonicalize_name(d) for d in providers[top]}
    return found


def test_every_imported_package_is_declared():
    project = pyproject()
    runtime = {canonicalize_name(Requirement(d).name) for d in project["project"]["dependencies"]}
    dev = {canonicalize_name(Requirement(d).name) for d in project["dependency-groups"]["dev"]}
    tools = {"tests", "scripts"}  # development only, as .difyignore says
    code = [p for p in ROOT.rglob("*.py") if not (tools | {".venv"}) & set(p.relative_to(ROOT).parts)]
    assert imported_distributions(code) <= runtime
    tool_code = sorted(p for tool in tools for p in (ROOT / tool).rglob("*.py"))
    assert imported_distributions(tool_code) <= runtime | dev


def test_plugin_registers_over_stdio(plugin):
    assert plugin.registration["name"] == "{{ plan.provider }}"
    assert plugin.registration["plugins"]["models"] == ["provider/{{ plan.provider }}.yaml"]
