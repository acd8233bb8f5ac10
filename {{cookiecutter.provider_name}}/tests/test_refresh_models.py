{% set plan = cookiecutter | plan %}
"""scripts/refresh_models.py against the fake server: it writes one predefined model file per
model, shows what changed when the server's list changes, writes only with --write, and fails
with one line and nothing written. And Dify's runtime serves every predefined model file."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import API_KEY, ROOT, closed_port

from scripts.refresh.command import printable

# The LLM rules an import writes in full (the others only name one of Dify's templates).
OWN_RULES = ("enable_thinking", "reasoning_effort", "response_format", "json_schema", "max_tokens")
FOLDERS = {
{% for type in plan.types %}
    "{{ type.name }}": "{{ type.folder }}",
{% endfor %}
}


def copy_of_plugin(tmp_path: Path) -> Path:
    """The script and the code it runs, in a folder of their own, so the test writes nowhere else."""
    for part in ("models", "scripts"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def refresh(root: Path, url: str, *args: str, key: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MODEL_SERVER_API_KEY"}
    env |= {"MODEL_SERVER_API_KEY": key} if key else {}
    command = [sys.executable, "scripts/refresh_models.py", "--server-url", url, "--timeout", "10", *args]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120)


def snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in root.glob("models/*/*.yaml")
    }


def position(root: Path, folder: str) -> list[str]:
    return yaml.safe_load((root / "models" / folder / "_position.yaml").read_text(encoding="utf-8")) or []


@pytest.mark.parametrize("model_type", list(FOLDERS))
def test_a_changed_model_list_is_shown_and_written_only_with_write(server, tmp_path, model_type):
    root = copy_of_plugin(tmp_path)
    folder = FOLDERS[model_type]
    hand_written = {
        p.name: p.read_text(encoding="utf-8") for p in (root / "models" / folder).glob("example-*.yaml")
    }
    first = refresh(root, server.url, "--write")
    assert first.returncode == 0, first.stderr
    imported = [
        name for name in position(root, folder) if name not in {n.removesuffix(".yaml") for n in hand_written}
    ]
    assert imported, first.stdout
    for name in imported:
        model = yaml.safe_load((root / "models" / folder / f"{name}.yaml").read_text(encoding="utf-8"))
        assert (model["model"], model["model_type"]) == (name, model_type)
    gone, kept = imported[0], imported[1:]
    others = [
        m
        for t, f in FOLDERS.items()
        if t != model_type
        for m in position(root, f)
        if not m.startswith("example-")
    ]
    server.config(listed=[*kept, *others])
    before = snapshot(root)

    shown = refresh(root, server.url)
    assert shown.returncode == 0, shown.stderr
    assert f"--- a/models/{folder}/{gone}.yaml" in shown.stdout
    assert f'-- "{gone}"' in shown.stdout  # its line in _position.yaml
    assert "nothing written" in shown.stdout
    assert snapshot(root) == before

    written = refresh(root, server.url, "--write")
    assert written.returncode == 0, written.stderr
    assert not (root / "models" / folder / f"{gone}.yaml").exists()
    assert gone not in position(root, folder) and all(name in position(root, folder) for name in kept)
    assert {
        p.name: p.read_text(encoding="utf-8") for p in (root / "models" / folder).glob("example-*.yaml")
    } == hand_written
    assert "up to date" in refresh(root, server.url).stdout


def test_a_server_that_describes_nothing_is_imported_by_small_requests(server, tmp_path):
    """Without Xinference's descriptions, each model's type is told by one small request per type
    (as validation tells it), and the import finds the same models of each type."""
    described = copy_of_plugin(tmp_path / "described")
    assert refresh(described, server.url, "--write").returncode == 0
    server.config(describe=False)
    server.control("features", {"typed": True})
    requested = copy_of_plugin(tmp_path / "requested")
    done = refresh(requested, server.url, "--write")
    assert done.returncode == 0, done.stderr
    for folder in FOLDERS.values():
        if folder != "moderation":  # no small request tells a moderation model apart
            assert sorted(position(requested, folder)) == sorted(position(described, folder)), folder


@pytest.mark.parametrize(
    "case, expected",
    [
        ("unreachable", "got no answer"),
        ("refused key", "answered 401 (the API key was refused): set MODEL_SERVER_API_KEY"),
        ("no key", "answered 401 (it needs an API key): set MODEL_SERVER_API_KEY"),
        ("empty list", "lists no models"),
    ],
)
def test_a_failed_import_says_why_in_one_line_and_writes_nothing(server, tmp_path, case, expected):
    root = copy_of_plugin(tmp_path)
    before = snapshot(root)
    url, key = server.url, ""
    if case == "unreachable":
        url = f"http://127.0.0.1:{closed_port()}"
    if case in ("refused key", "no key"):
        server.config(api_key=API_KEY)
        key = "sk-wrong-1234" if case == "refused key" else ""
    if case == "empty list":
        server.config(listed=[])
    done = refresh(root, url, "--write", key=key)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("error: --server-url: ") and expected in line
    assert snapshot(root) == before
    assert API_KEY not in done.stdout + done.stderr and "sk-wrong-1234" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "url, rule",
    [
        ("http://ana:s3cret@127.0.0.1:9", "must not contain a user or password"),
        ("127.0.0.1:9997", "must be an http(s) URL with a host"),
    ],
)
def test_a_bad_server_url_is_refused_without_showing_a_password(tmp_path, url, rule):
    done = refresh(copy_of_plugin(tmp_path), url)
    assert done.returncode == 2
    assert f"--server-url {rule}" in done.stderr and "s3cret" not in done.stdout + done.stderr


def test_the_servers_words_cannot_steer_the_terminal(server, tmp_path):
    """Model ids are the server's text: a control character in one is written and shown escaped."""
    server.config(listed=["evil\x1b[2Jmodel"])
    done = refresh(copy_of_plugin(tmp_path), server.url)
    assert "evil" in done.stdout and "\x1b" not in done.stdout + done.stderr
    assert printable("evil\x1b[2J\nmodel") == "evil\\x1b[2J\\x0amodel"  # as notes and errors show it


def test_the_key_comes_from_the_environment(server, tmp_path):
    server.config(api_key=API_KEY)
    done = refresh(copy_of_plugin(tmp_path), server.url, key=API_KEY)
    assert done.returncode == 0, done.stderr
    assert API_KEY not in done.stdout + done.stderr


{% if plan.has("llm") %}
def test_an_imported_llm_is_what_validation_would_make_of_it(server, tmp_path, credentials):
    """Each imported LLM has the features, mode, context size and feature parameters that saving it
    in the customizable form would give (the same detection), and no rule that form lacks."""
    from dify_plugin.entities.model import AIModelEntity

    from models.llm.llm import {{ plan.class_name("llm") }}

    root = copy_of_plugin(tmp_path)
    assert refresh(root, server.url, "--write").returncode == 0
    llm = {{ plan.class_name("llm") }}(model_schemas=[])
    for uid in position(root, "llm"):
        path = root / "models" / "llm" / f"{uid}.yaml"
        if uid.startswith("example-"):
            continue
        imported = AIModelEntity(**yaml.safe_load(path.read_text(encoding="utf-8")))
        stored = credentials(uid)
        llm.validate_credentials(uid, stored)
        form = llm.get_customizable_model_schema(uid, stored)
        assert set(imported.features or []) == set(form.features or []), uid
        assert imported.model_properties == form.model_properties, uid
        rules = {rule.name: rule for rule in form.parameter_rules}
        assert all(rule.name in rules for rule in imported.parameter_rules), uid
        for rule in imported.parameter_rules:
            if rule.name in OWN_RULES:
                assert rule == rules[rule.name], (uid, rule.name)


{% endif %}
def test_every_predefined_model_file_is_served_over_stdio(plugin, server):
    """What Dify lists without the user adding anything: each file's model, from the runtime."""
    files = [p for p in sorted(ROOT.glob("models/*/*.yaml")) if p.name != "_position.yaml"]
    assert files
    for path in files:
        declared = yaml.safe_load(path.read_text(encoding="utf-8"))
        results, error = plugin.call(
            "get_ai_model_schemas",
            model_type=declared["model_type"],
            model=declared["model"],
            credentials={"server_url": server.url},
        )
        assert error is None, error
        schema = results[0]["model_schema"]
        assert (schema["model"], schema["fetch_from"]) == (declared["model"], "predefined-model"), path.name
