"""cruft on this template: answers checked as on the command line, and updates that run the new commit's code.

`cruft update` bakes the plugin twice in one Python process, at the recorded template commit and
at the new one. Each bake must use its own commit's Jinja filters and answer rules, even when a
changed file keeps its size and its modification second (Python's bytecode cache would then
take the old file for the new one).
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import TEMPLATE
from test_ecosystem import BIN, IGNORED, Workspace

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="cruft needs git")

EXTENSION = "cookiecutter_dify_model_plugin.py"
RULES = "hooks/answers.py"
PRIVACY = "{{cookiecutter.provider_name}}/PRIVACY.md"


@pytest.fixture
def space(tmp_path) -> Workspace:
    """A git copy of this working tree: the template at its first commit."""
    space = Workspace(tmp_path)
    shutil.copytree(TEMPLATE, space.repo, ignore=IGNORED)
    space.git("init", "--quiet")
    space.git("add", "--all")
    space.git("commit", "--quiet", "--no-verify", "-m", "template v1")
    return space


def edit(space: Workspace, path: str, old: str, new: str) -> None:
    file = space.repo / path
    text = file.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path}: {old!r} is not there once"
    file.write_text(text.replace(old, new), encoding="utf-8")


def commit(space: Workspace, message: str) -> None:
    space.git("commit", "--quiet", "--all", "--no-verify", "-m", message)


def cruft(space: Workspace, *args, cwd=None) -> subprocess.CompletedProcess:
    """cruft without asserting success (Workspace.run asserts it)."""
    return subprocess.run(
        [str(BIN / "cruft"), *map(str, args)],
        cwd=cwd or space.root,
        env=space.env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def baked_with_cruft(space: Workspace, label: str = "Acme AI") -> Path:
    space.run("cruft", "create", space.repo, "--no-input", "--extra-context", json.dumps({"provider_label": label}))
    plugin = space.root / "acme_ai"
    for step in (("init", "--quiet"), ("add", "--all"), ("commit", "--quiet", "--no-verify", "-m", "baked")):
        space.git(*step, cwd=plugin)
    return plugin


def privacy(plugin: Path) -> str:
    return (plugin / "PRIVACY.md").read_text(encoding="utf-8")


def test_update_applies_a_filter_the_new_commit_adds_then_one_it_changes(space):
    plugin = baked_with_cruft(space)

    # v2: a new filter, in the extension, using a new name in the rules module.
    edit(space, RULES, "SHOWN_MAX = 80", 'SHOWN_MAX = 80\nSHOUT_MARK = "!"')
    edit(
        space,
        EXTENSION,
        'environment.filters["quoted"] = quoted',
        'environment.filters["quoted"] = quoted\n'
        '        environment.filters["shout"] = lambda value: str(value).upper() + answers.SHOUT_MARK',
    )
    privacy_text = (space.repo / PRIVACY).read_text(encoding="utf-8")
    (space.repo / PRIVACY).write_text(privacy_text + "\nShouted: {{ cookiecutter.provider_label | shout }}\n")
    commit(space, "template v2: a filter added")
    space.run("cruft", "update", "--skip-apply-ask", cwd=plugin)
    assert privacy(plugin).rstrip().endswith("Shouted: ACME AI!")
    space.git("commit", "--quiet", "--all", "--no-verify", "-m", "update to v2", cwd=plugin)

    # v3: the same filter, changed without changing the file's size.
    edit(space, EXTENSION, "str(value).upper()", "str(value).lower()")
    commit(space, "template v3: a filter changed")
    space.run("cruft", "update", "--skip-apply-ask", cwd=plugin)
    assert privacy(plugin).rstrip().endswith("Shouted: acme ai!")
    assert not list(plugin.rglob("*.rej"))
    space.git("commit", "--quiet", "--all", "--no-verify", "-m", "update to v3", cwd=plugin)
    assert "up to date" in space.run("cruft", "check", cwd=plugin).stdout


def test_update_applies_the_new_commits_answer_rules(space):
    plugin = baked_with_cruft(space)
    # v2 refuses the author the first bake used: the update must say so, not bake with the old rules.
    edit(
        space,
        RULES,
        "    if UUID_RE.fullmatch(author):",
        '    if author == "your-name":\n'
        '        raise AnswerError("author", "must not be the placeholder", author, "use your GitHub handle")\n'
        "    if UUID_RE.fullmatch(author):",
    )
    commit(space, "template v2: a stricter author rule")
    done = cruft(space, "update", "--skip-apply-ask", cwd=plugin)
    assert done.returncode == 1
    assert 'error: author: must not be the placeholder (got "your-name"); use your GitHub handle' in done.stderr
    assert space.git("status", "--porcelain", cwd=plugin) == "", "a refused update changed the plugin"


def test_a_misspelt_answer_in_cruft_create_is_refused_and_nothing_is_written(space):
    done = cruft(space, "create", space.repo, "--no-input", "--extra-context", '{"provider_nmae": "acme"}')
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        'error: provider_nmae: is not an answer of this template (got "acme"); did you mean provider_name?'
    ]
    assert sorted(p.name for p in space.root.iterdir()) == sorted(["template", "cookiecutter-config.yaml"])


def test_a_misspelt_answer_in_cruft_update_is_refused_and_the_plugin_left_alone(space):
    plugin = baked_with_cruft(space)
    done = cruft(space, "update", "--skip-apply-ask", "--variables-to-update", '{"modle_types": "llm,tts"}', cwd=plugin)
    assert done.returncode == 1
    assert 'error: modle_types: is not an answer of this template (got "llm,tts"); did you mean model_types?' in (
        done.stderr.splitlines()
    )
    assert space.git("status", "--porcelain", cwd=plugin) == ""


def test_a_new_model_type_arrives_through_cruft_update(space):
    plugin = baked_with_cruft(space)
    space.run("cruft", "update", "--skip-apply-ask", "--variables-to-update", '{"model_types": "llm,tts"}', cwd=plugin)
    assert (plugin / "models" / "tts" / "tts.py").is_file()
    recorded = json.loads((plugin / ".cruft.json").read_text(encoding="utf-8"))["context"]["cookiecutter"]
    assert recorded["model_types"] == "llm,tts"


BAKE_TWICE = """
import os, sys
from pathlib import Path
from cookiecutter.main import cookiecutter

template, out = Path(sys.argv[1]), Path(sys.argv[2])
extension = template / "cookiecutter_dify_model_plugin.py"
stat = extension.stat()
for run, case in enumerate(("upper", "lower")):
    if run:  # the next commit: same size, same modification time as the file already imported
        extension.write_text(extension.read_text().replace(".upper()", ".lower()"))
        os.utime(extension, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    cookiecutter(str(template), no_input=True, output_dir=str(out / case), extra_context={"provider_label": "Acme AI"})
"""


def test_a_changed_extension_of_the_same_size_and_time_is_read_again_not_taken_from_bytecode(space, tmp_path):
    """What cruft's two bakes meet when both checkouts fall in the same second."""
    edit(
        space,
        EXTENSION,
        'environment.filters["quoted"] = quoted',
        'environment.filters["quoted"] = quoted\n'
        '        environment.filters["shout"] = lambda value: str(value).upper() + "!"',
    )
    (space.repo / PRIVACY).write_text("Shouted: {{ cookiecutter.provider_label | shout }}\n", encoding="utf-8")
    done = subprocess.run(
        [str(BIN / "python"), "-c", BAKE_TWICE, str(space.repo), str(tmp_path / "out")],
        cwd=tmp_path,
        env={k: v for k, v in space.env.items() if k != "PYTHONDONTWRITEBYTECODE"},  # as on most machines
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert privacy(tmp_path / "out" / "upper" / "acme_ai") == "Shouted: ACME AI!\n"
    assert privacy(tmp_path / "out" / "lower" / "acme_ai") == "Shouted: acme ai!\n"
    assert not list(space.repo.rglob("*.pyc")), "the bakes left bytecode of the template's code behind"
