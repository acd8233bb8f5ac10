"""Every answer set bakes a complete plugin that the dify_plugin runtime accepts as-is."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ANSWER_SETS, SIX, offline_env, registration, run_plugin_tests

FOLDER = {t: t.replace("-", "_") for t in SIX}


@pytest.fixture(params=list(ANSWER_SETS))
def case(request, bake):
    """(answer set, baked plugin directory) for each answer set in the matrix."""
    return ANSWER_SETS[request.param], bake(request.param)


def text_files(root: Path):
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and ".ruff_cache" not in path.parts:
            yield path, path.read_text(encoding="utf-8")


def test_plugin_dir_is_named_after_the_provider(case):
    answers, plugin = case
    assert plugin.name == answers.provider


def test_manifest_validates_with_the_sdk_entity(case, sdk_report):
    answers, plugin = case
    manifest = sdk_report(plugin)["manifest"]  # validated by the SDK's PluginConfiguration
    assert manifest["name"] == answers.provider
    assert manifest["plugins"]["models"] == [f"provider/{answers.provider}.yaml"]
    assert (plugin / "_assets" / manifest["icon"]).is_file()


def test_provider_yaml_declares_exactly_the_chosen_types_and_methods(case):
    answers, plugin = case
    provider = yaml.safe_load((plugin / "provider" / f"{answers.provider}.yaml").read_text(encoding="utf-8"))
    assert tuple(provider["supported_model_types"]) == answers.types
    assert tuple(provider["configurate_methods"]) == answers.methods
    assert provider["extra"]["python"]["model_sources"] == [f"models/{FOLDER[t]}/{FOLDER[t]}.py" for t in answers.types]
    assert provider["extra"]["python"]["provider_source"] == f"provider/{answers.provider}.py"
    assert "provider_credential_schema" in provider
    assert ("model_credential_schema" in provider) == ("customizable-model" in answers.methods)
    shown_for = {
        rule["value"]
        for field in provider.get("model_credential_schema", {}).get("credential_form_schemas", [])
        for rule in field.get("show_on", [])
    }
    assert shown_for <= set(answers.types)
    model_fields = provider.get("model_credential_schema", {}).get("credential_form_schemas", [])
    assert len(model_fields) < 32, "Dify's credential forms get unwieldy; keep them short"
    for key in ("icon_small", "icon_large"):
        assert all((plugin / "_assets" / name).is_file() for name in provider[key].values())


def test_sdk_runtime_loads_one_class_per_declared_source(case, sdk_report):
    answers, plugin = case
    report = sdk_report(plugin)["providers"][answers.provider]
    assert list(report["models"]) == list(answers.types)
    for source, classes in report["classes_per_source"].items():
        assert (plugin / source).is_file()
        assert len(classes) == 1, f"{source}: {classes}"
    prefix = report["provider_class"].removesuffix("Provider")
    assert prefix.isidentifier()
    for model_type, loaded in report["models"].items():
        assert loaded["class"].startswith(prefix)
        assert loaded["module"] == f"models.{FOLDER[model_type]}.{FOLDER[model_type]}"
        assert {"InvokeConnectionError", "InvokeAuthorizationError"} <= set(loaded["error_mapping"])


def test_predefined_models_validate_and_are_positioned(case, sdk_report):
    answers, plugin = case
    report = sdk_report(plugin)["providers"][answers.provider]
    if "predefined-model" in answers.methods:
        assert sorted(report["predefined_models"]) == sorted(f"example-{FOLDER[t]}" for t in answers.types)
        assert {k for k, v in report["position"].items() if v} == {FOLDER[t] for t in answers.types}
    else:
        assert report["predefined_models"] == []
        assert not list(plugin.glob("models/*/*.yaml"))


def test_no_template_markup_is_left(case):
    _, plugin = case
    for path, text in text_files(plugin):
        for mark in ("{{", "{%", "{#", "cookiecutter"):
            leftovers = [
                m.start() for m in re.finditer(re.escape(mark), text) if not text.endswith(("$", "."), 0, m.start())
            ]
            assert not leftovers, f"{path.relative_to(plugin)} still contains {mark!r}"


def test_nothing_of_an_unchosen_type_remains(case):
    answers, plugin = case
    unchosen = [t for t in SIX if t not in answers.types]
    for model_type in unchosen:
        folder = FOLDER[model_type]
        assert not (plugin / "models" / folder).exists()
        assert not (plugin / "tests" / f"test_{folder}.py").exists()
        for path, text in text_files(plugin):
            assert f"models/{folder}/" not in text, f"{path.relative_to(plugin)} mentions models/{folder}/"
            assert f"value: {model_type}\n" not in text, f"{path.relative_to(plugin)} shows a field for {model_type}"
    assert not (plugin / "_blank").exists()


def test_generated_python_is_ruff_clean(case):
    _, plugin = case
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=plugin, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
        cwd=plugin,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_plugin_process_starts_and_registers_over_stdio(case):
    answers, plugin = case
    registered = registration(sys.executable, plugin, offline_env())
    assert registered["name"] == answers.provider
    assert registered["plugins"]["models"] == [f"provider/{answers.provider}.yaml"]


def test_blank_provider_check_is_an_expected_failure_until_filled_in(bake, tmp_path):
    plugin = tmp_path / "plugin"
    shutil.copytree(bake("blank-default"), plugin)
    source = plugin / "provider" / "xinference.py"

    def provider_test_outcome() -> str:
        return run_plugin_tests(plugin, "-rxX", "tests/test_provider.py").stdout.strip().splitlines()[-1]

    assert re.fullmatch(r"=* ?1 xfailed in .*", provider_test_outcome())
    filled_in = source.read_text(encoding="utf-8").replace(
        '        raise not_implemented("validate_provider_credentials", __file__)',
        "        raise CredentialsValidateFailedError(f\"cannot reach {credentials['server_url']}\")",
    )
    filled_in = "from dify_plugin.errors.model import CredentialsValidateFailedError\n" + filled_in
    source.write_text(filled_in, encoding="utf-8")
    assert re.fullmatch(r"=* ?1 passed in .*", provider_test_outcome())
