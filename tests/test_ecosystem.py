"""The template as cookiecutter and cruft users drive it: from a git repository, without prompts.

Every bake here runs the real `cookiecutter` and `cruft` commands in a subprocess, against a git
copy of this working tree, with a private cookiecutter config so nothing is written to $HOME.
"""

import datetime
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE

from hooks.answers import slugify

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="cruft and --checkout need git")

BIN = Path(sys.executable).parent
DEFAULTS = {
    key: value
    for key, value in json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8")).items()
    if not key.startswith("_") and key != "created_at"  # its default is the time of the bake
}


def expected_record(given: dict[str, str] | None = None) -> dict[str, str]:
    """The answers record a bake with `given` must write (the description default names the label)."""
    answers = DEFAULTS | (given or {})
    label = answers["provider_label"]
    made = {"description": answers["description"].replace("{{ cookiecutter.provider_label }}", label)}
    if "{{" in answers["provider_name"]:  # the default is the label as a name
        made["provider_name"] = slugify(label)
    return answers | made


IGNORED = shutil.ignore_patterns(
    ".git", ".venv*", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "build", "results"
)
# PRIVACY.md gains this line in the template's second commit; tag v1 is the commit before it.
V2_LINE = "Second template revision."


def png_with_markup() -> bytes:
    """A valid 1x1 PNG whose text chunk holds Jinja-looking bytes, as exported icons may."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\xff")
    comment = b"Comment\x00{{ cookiecutter.provider_name }} {% raw %}\xff\xfe"
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"tEXt", comment) + chunk(b"IDAT", pixels)


class Workspace:
    """A git copy of the template, and the environment every command here runs in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "template"
        self.config = root / "cookiecutter-config.yaml"
        self.replay_dir = root / "replay"
        self.config.write_text(
            yaml.safe_dump({"cookiecutters_dir": str(root / "cookiecutters"), "replay_dir": str(self.replay_dir)}),
            encoding="utf-8",
        )
        identity = {"GIT_AUTHOR_NAME": "Template Tests", "GIT_AUTHOR_EMAIL": "tests@example.invalid"}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "COOKIECUTTER"))} | {
            **identity,
            "GIT_COMMITTER_NAME": identity["GIT_AUTHOR_NAME"],
            "GIT_COMMITTER_EMAIL": identity["GIT_AUTHOR_EMAIL"],
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "COOKIECUTTER_CONFIG": str(self.config),
        }

    def run(self, command: str, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
        executable = str(BIN / command) if command in ("cookiecutter", "cruft") else command
        done = subprocess.run(
            [executable, *map(str, args)],
            cwd=cwd or self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{command} {args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return self.run("git", *args, cwd=cwd or self.repo).stdout.strip()

    @property
    def url(self) -> str:
        """The copy as a git URL: cookiecutter clones it (and honours --checkout) instead of reading it."""
        return f"git+{self.repo.as_uri()}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    """The working tree as a git repository: tag v1, then a commit that changes PRIVACY.md."""
    space = Workspace(tmp_path_factory.mktemp("ecosystem"))
    shutil.copytree(TEMPLATE, space.repo, ignore=IGNORED)
    (space.repo / "{{cookiecutter.provider_name}}" / "_assets" / "photo.png").write_bytes(png_with_markup())
    space.git("init", "--quiet")
    space.git("add", "--all")
    space.git("commit", "--quiet", "--no-verify", "-m", "template v1")
    space.git("tag", "v1")
    privacy = space.repo / "{{cookiecutter.provider_name}}" / "PRIVACY.md"
    privacy.write_text(privacy.read_text(encoding="utf-8") + f"\n{V2_LINE}\n", encoding="utf-8")
    space.git("commit", "--quiet", "--all", "--no-verify", "-m", "template v2")
    return space


def tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file under `root` by relative path; `skip` names files left out."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name not in skip and "__pycache__" not in path.parts
    }


def record(plugin: Path) -> dict[str, str]:
    """The answers record without `created_at`, after checking that it holds the manifest's time."""
    answers = json.loads((plugin / ".cookiecutter.json").read_text(encoding="utf-8"))
    manifest = yaml.safe_load((plugin / "manifest.yaml").read_text(encoding="utf-8"))
    created_at = answers.pop("created_at")
    assert manifest["created_at"] == datetime.datetime.fromisoformat(created_at)
    return answers


def supported_types(plugin: Path) -> list[str]:
    provider = yaml.safe_load((plugin / "provider" / f"{plugin.name}.yaml").read_text(encoding="utf-8"))
    return provider["supported_model_types"]


def test_cruft_create_then_check_and_update_report_no_drift(workspace, tmp_path):
    workspace.run("cruft", "create", workspace.repo, "--no-input", "--output-dir", tmp_path)
    plugin = tmp_path / "xinference"
    state = json.loads((plugin / ".cruft.json").read_text(encoding="utf-8"))
    assert state["commit"] == workspace.git("rev-parse", "HEAD")
    assert record(plugin) == expected_record(), "a local template's path must not be recorded"
    assert (plugin / "PRIVACY.md").read_text(encoding="utf-8").rstrip().endswith(V2_LINE)
    workspace.git("init", "--quiet", cwd=plugin)
    workspace.git("add", "--all", cwd=plugin)
    workspace.git("commit", "--quiet", "--no-verify", "-m", "baked", cwd=plugin)

    checked = workspace.run("cruft", "check", cwd=plugin)
    assert "up to date" in checked.stdout
    updated = workspace.run("cruft", "update", "--skip-apply-ask", cwd=plugin)
    assert "Nothing to do" in updated.stdout
    assert workspace.git("status", "--porcelain", cwd=plugin) == "", "cruft update changed the plugin"


def test_cruft_update_brings_a_template_change_without_conflicts(workspace, tmp_path):
    workspace.run("cruft", "create", workspace.repo, "--checkout", "v1", "--no-input", "--output-dir", tmp_path)
    plugin = tmp_path / "xinference"
    assert V2_LINE not in (plugin / "PRIVACY.md").read_text(encoding="utf-8")
    workspace.git("init", "--quiet", cwd=plugin)
    workspace.git("add", "--all", cwd=plugin)
    workspace.git("commit", "--quiet", "--no-verify", "-m", "baked", cwd=plugin)

    workspace.run("cruft", "update", "--skip-apply-ask", "--checkout", "HEAD", cwd=plugin)
    assert (plugin / "PRIVACY.md").read_text(encoding="utf-8").rstrip().endswith(V2_LINE)
    assert not list(plugin.rglob("*.rej")), "cruft update left conflicts"
    changed = sorted(
        line.split(maxsplit=1)[1] for line in workspace.git("status", "--porcelain", cwd=plugin).splitlines()
    )
    assert changed == [".cruft.json", "PRIVACY.md"]


def test_no_input_with_key_value_answers(workspace, tmp_path):
    answers = {"provider_name": "acme", "provider_label": "Acme AI", "author": "acme-team", "model_types": "llm,rerank"}
    workspace.run(
        "cookiecutter",
        workspace.repo,
        "--no-input",
        "--output-dir",
        tmp_path,
        *[f"{k}={v}" for k, v in answers.items()],
    )
    plugin = tmp_path / "acme"
    assert supported_types(plugin) == ["llm", "rerank"]
    assert yaml.safe_load((plugin / "manifest.yaml").read_text(encoding="utf-8"))["author"] == "acme-team"
    assert record(plugin) == expected_record(answers)
    assert str(tmp_path) not in (plugin / ".cookiecutter.json").read_text(encoding="utf-8")


def test_config_file_default_context_supplies_the_answers(workspace, tmp_path):
    answers = {"provider_name": "configured", "provider_label": "Configured", "model_types": "text-embedding"}
    config = yaml.safe_load(workspace.config.read_text(encoding="utf-8")) | {"default_context": answers}
    config_file = tmp_path / "answers.yaml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    output = tmp_path / "out"
    workspace.run("cookiecutter", workspace.repo, "--no-input", "--config-file", config_file, "--output-dir", output)
    plugin = output / "configured"
    assert supported_types(plugin) == ["text-embedding"]
    assert record(plugin) == expected_record(answers)


def test_replay_bakes_the_same_plugin_again(workspace, tmp_path):
    given = {"provider_name": "replayed", "model_types": "llm,speech2text", "provider_label_zh_hans": "重放"}
    workspace.run(
        "cookiecutter", workspace.repo, "--no-input", "-o", tmp_path / "first", *[f"{k}={v}" for k, v in given.items()]
    )
    replay_file = workspace.replay_dir / f"{workspace.repo.name}.json"
    saved = tmp_path / "replayed-answers.json"
    shutil.copy(replay_file, saved)  # other tests bake this template too and overwrite the default file

    workspace.run("cookiecutter", workspace.repo, "--replay-file", saved, "-o", tmp_path / "second")
    assert tree(tmp_path / "second" / "replayed") == tree(tmp_path / "first" / "replayed")
    shutil.copy(saved, replay_file)
    workspace.run("cookiecutter", workspace.repo, "--replay", "-o", tmp_path / "third")
    assert tree(tmp_path / "third" / "replayed") == tree(tmp_path / "first" / "replayed")


def test_checkout_pins_the_template_version(workspace, tmp_path):
    workspace.run("cookiecutter", workspace.url, "--no-input", "--checkout", "v1", "-o", tmp_path / "v1")
    workspace.run("cookiecutter", workspace.url, "--no-input", "-o", tmp_path / "head")
    assert V2_LINE not in (tmp_path / "v1" / "xinference" / "PRIVACY.md").read_text(encoding="utf-8")
    assert V2_LINE in (tmp_path / "head" / "xinference" / "PRIVACY.md").read_text(encoding="utf-8")
    assert record(tmp_path / "v1" / "xinference") == expected_record(), "a file:// template must not be recorded"


def test_answers_record_bakes_the_plugin_again_and_links_it_to_cruft(workspace, tmp_path):
    answers = {
        "provider_name": "again",
        "model_types": "rerank,tts",
        "configurate_method": "both",
        "description": "Two\nlines",
    }
    workspace.run(
        "cookiecutter",
        workspace.repo,
        "--no-input",
        "-o",
        tmp_path / "first",
        *[f"{k}={v}" for k, v in answers.items()],
    )
    plugin = tmp_path / "first" / "again"
    recorded = plugin / ".cookiecutter.json"

    # As the plugin's README says: bake a fresh copy from the record...
    workspace.run(
        "cruft",
        "create",
        workspace.repo,
        "--no-input",
        "--extra-context-file",
        recorded,
        "--output-dir",
        tmp_path / "second",
    )
    again = tmp_path / "second" / "again"
    assert tree(again, skip=(".cruft.json",)) == tree(plugin)
    # ...or link the plain cookiecutter bake to the template for later updates.
    workspace.run(
        "cruft",
        "link",
        workspace.repo,
        "--no-input",
        "--extra-context",
        recorded.read_text(encoding="utf-8"),
        "--project-dir",
        plugin,
    )
    assert "up to date" in workspace.run("cruft", "check", cwd=plugin).stdout


def test_binary_assets_are_copied_byte_for_byte(workspace, tmp_path):
    workspace.run("cookiecutter", workspace.repo, "--no-input", "-o", tmp_path)
    assert (tmp_path / "xinference" / "_assets" / "photo.png").read_bytes() == png_with_markup()


MARKETPLACE = ["repository_url=https://github.com/acme/acme-dify-plugin", "contact=ana@acme.example"]


def test_repository_answer_fills_the_manifest_and_the_readme_link(workspace, tmp_path):
    url = "https://github.com/acme/acme-dify-plugin"
    workspace.run("cookiecutter", workspace.repo, "--no-input", "-o", tmp_path, *MARKETPLACE)
    plugin = tmp_path / "xinference"
    assert yaml.safe_load((plugin / "manifest.yaml").read_text(encoding="utf-8"))["repo"] == url
    assert f"[{url}]({url})" in (plugin / "README.md").read_text(encoding="utf-8")


def test_a_marketplace_bake_names_its_contact_in_the_readme_and_privacy_policy_not_the_manifest(workspace, tmp_path):
    """Neither the SDK's PluginConfiguration nor the daemon's declaration has a contact field; the
    submission rules want it in the README (and the pull request)."""
    workspace.run("cookiecutter", workspace.repo, "--no-input", "-o", tmp_path, *MARKETPLACE)
    plugin = tmp_path / "xinference"

    assert "contact" not in yaml.safe_load((plugin / "manifest.yaml").read_text(encoding="utf-8"))
    assert "## Contact\n\nQuestions and bug reports: [ana@acme.example](mailto:ana@acme.example)." in (
        plugin / "README.md"
    ).read_text(encoding="utf-8")
    assert "its author, `your-name` (ana@acme.example)." in (plugin / "PRIVACY.md").read_text(encoding="utf-8")


REFUSED_MARKETPLACE_ANSWERS = {
    "repository_url not a URL": (
        "repository_url=acme/x",
        'error: repository_url: must be an http(s) URL with a host (got "acme/x"); '
        "try repository_url=https://github.com/acme/x",
    ),
    "no contact with repository_url": (
        MARKETPLACE[0],
        "error: contact: must be given with repository_url (a Marketplace submission names a contact email) "
        '(got ""); e.g. contact=you@example.com',
    ),
}


@pytest.mark.parametrize(
    ("answer", "line"), REFUSED_MARKETPLACE_ANSWERS.values(), ids=REFUSED_MARKETPLACE_ANSWERS.keys()
)
def test_a_marketplace_answer_that_breaks_its_rule_is_refused_in_one_line(workspace, tmp_path, answer, line):
    done = subprocess.run(
        [str(BIN / "cookiecutter"), str(workspace.repo), "--no-input", "-o", str(tmp_path), answer],
        cwd=workspace.root,
        env=workspace.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [line]
    assert list(tmp_path.iterdir()) == []
