"""The user guide stays true to the template: every answer documented, every link alive, every command runnable."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE

DOCS = TEMPLATE / "docs"
CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
PUBLIC = [key for key in CONTEXT if not key.startswith("_")]
PRIVATE = [key for key in CONTEXT if key.startswith("_")]
ANSWER_HEADING = re.compile(r"^### `([^`]+)`\s*$", re.MULTILINE)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PAGES = sorted(DOCS.glob("*.md")) + [TEMPLATE / "README.md"]


def answers_page() -> str:
    return (DOCS / "answers.md").read_text(encoding="utf-8")


def sections(text: str) -> dict[str, str]:
    """The text under each "### `name`" heading, up to the next heading."""
    parts = re.split(r"^#{1,3} ", text, flags=re.MULTILINE)
    found = {}
    for part in parts:
        match = re.match(r"`([^`]+)`\s*\n", part)
        if match:
            found[match.group(1)] = part[match.end() :]
    return found


def anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_answers_page_documents_exactly_the_current_answers():
    documented = ANSWER_HEADING.findall(answers_page())
    assert sorted(set(documented)) == sorted(documented), "an answer is documented twice"
    missing = [key for key in PUBLIC if key not in documented]
    stale = [key for key in documented if key not in PUBLIC]
    assert not missing, f"docs/answers.md does not document {missing}"
    assert not stale, f"docs/answers.md documents answers that no longer exist: {stale}"


@pytest.mark.parametrize("key", PUBLIC)
def test_each_answer_states_its_current_default(key):
    text = sections(answers_page()).get(key, "")
    default = CONTEXT[key]
    expected = "**Default:** empty" if default == "" else f"**Default:** `{default}`"
    if key in ASKED_IN_A_MENU_OR_NOT_AT_ALL:
        assert ASKED_IN_A_MENU_OR_NOT_AT_ALL[key] in text, f"{key}: say how it is asked"
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    assert first_line == expected, f"{key}: docs say {first_line!r}, cookiecutter.json has {default!r}"
    assert len(text.split()) >= 12, f"{key}: say what the answer changes"


ASKED_IN_A_MENU_OR_NOT_AT_ALL = {
    "model_types": "Not asked",
    "repository_url": "Not asked",
    "contact": "Not asked",
    "provider_label_zh_hans": "Not asked",
    "version": "Not asked",
    "created_at": "Not asked",
    "import_models_from": "Not asked",
}


def test_answers_page_lists_exactly_the_template_set_keys():
    rows = re.findall(r"^\| `(_[^`]+)` \|", answers_page(), flags=re.MULTILINE)
    assert sorted(rows) == sorted(PRIVATE)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(TEMPLATE).as_posix())
def test_relative_links_and_anchors_resolve(page: Path):
    text = page.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.is_file(), f"{page.name}: link to missing {target}"
        if fragment:
            headings = re.findall(r"^#{1,6} (.+)$", linked.read_text(encoding="utf-8"), flags=re.MULTILINE)
            assert fragment in {anchor(h) for h in headings}, f"{page.name}: no heading for #{fragment} in {path}"


# --- every shell command in the docs, run as written -------------------------------------------------

BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# A YAML block whose first line is "# <file name>" is a file the reader writes.
FILE_BLOCK = re.compile(r"^```yaml\n# (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# Commands that need something no test machine has; every other command in a bash block runs.
NEEDS_OUTSIDE = {
    "dify ": "the dify CLI and a Dify to install into",
    "docker ": "a Dify installation",
    "curl ": "a running model server",
    "python scripts/check_server.py": "a running model server (each baked plugin's own suite tests the check)",
    "git push": "a remote repository",
    "python -m main": "a Dify to debug against",
    "python tests/fake_server.py": "runs until stopped, in a second terminal",
    "bash tests/run.sh": "is this test suite",
    "bash benchmarks/run.sh": "takes minutes; benchmarks are not tests",
    "git add --renormalize": "repairs a checkout that has the problem",
}
# What a reader types at the prompts, where a page has them bake interactively.
TYPED = {
    "docs/index.md": [""] * 13,
    "docs/non-interactive.md": [""],  # --replay asks whether to download the template again
    # The workshop's attendee: her own display name, and the mistakes the page asks for on purpose.
    "docs/workshop.md": ["Xinference (Ana)", "My Plugin", "", "ana-b", "", "", "maybe", *[""] * 6, "7", "", ""],
}
PAGES_WITH_COMMANDS = [
    "README.md",
    "docs/index.md",
    "docs/non-interactive.md",
    "docs/workshop.md",
    "docs/adapting.md",
    "docs/troubleshooting.md",
]
HOSTED = "your-org/cookiecutter-dify-model-plugin"
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or os.path.join(
    os.path.expanduser("~"), ".cache", "pip"
)  # the docs' placeholder for the template's home


def commands(block: str) -> list[str]:
    """The block's commands, continuation lines joined."""
    return [line for line in block.replace("\\\n", "").splitlines() if line.strip()]


def outside(command: str) -> str | None:
    return next((reason for need, reason in NEEDS_OUTSIDE.items() if need in command), None)


def test_every_documented_page_with_commands_is_run():
    pages = [p.relative_to(TEMPLATE).as_posix() for p in PAGES if BASH_BLOCK.search(p.read_text(encoding="utf-8"))]
    assert sorted(pages) == sorted([*PAGES_WITH_COMMANDS, "docs/performance.md"])
    for page in PAGES_WITH_COMMANDS:
        text = (TEMPLATE / page).read_text(encoding="utf-8")
        assert "gh:<" not in text and "<org>" not in text, f"{page}: `<` and `>` are redirections in a shell"


@pytest.fixture(scope="module")
def hosted(tmp_path_factory) -> dict[str, str]:
    """The environment of a reader's machine: the template on "GitHub", Python 3.12, cookiecutter and cruft.

    git serves https://github.com/your-org/... from a local bare repository (tag v1.2.0 stands
    for a release); `python3.12` is this Python; cookiecutter and cruft are those of the suite.
    """
    root = tmp_path_factory.mktemp("reader")
    work = root / "work"
    shutil.copytree(TEMPLATE, work, ignore=shutil.ignore_patterns(".git", ".venv*", "build", "__pycache__", ".*cache"))
    gitconfig = root / "gitconfig"
    gitconfig.write_text(
        f"[user]\n\tname = Reader\n\temail = reader@example.invalid\n[init]\n\tdefaultBranch = main\n"
        f'[url "{(root / "github").as_uri()}/"]\n\tinsteadOf = https://github.com/\n',
        encoding="utf-8",
    )
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.12").symlink_to(getattr(sys, "_base_executable", sys.executable))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "COOKIECUTTER", "VIRTUAL_ENV"))}
    env |= {
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env["PATH"]]),
        "PYTHONIOENCODING": "utf-8",
    }
    bare = root / "github" / f"{HOSTED}.git"

    def git(*args: str, cwd: Path = work) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=120)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "template")
    git("tag", "v1.2.0")
    git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
    bare.with_suffix("").symlink_to(bare.name)  # cruft takes the URL without ".git"
    return env | {"READER_ROOT": str(root)}


def run_page(page: str, env: dict[str, str], cwd: Path) -> list[str]:
    """Run the page's commands block by block, as a reader in one terminal would; return what was skipped."""
    text = (TEMPLATE / page).read_text(encoding="utf-8")
    events = sorted(
        [(m.start(), "file", m.groups()) for m in FILE_BLOCK.finditer(text)]
        + [(m.start(), "bash", m.group(1)) for m in BASH_BLOCK.finditer(text)]
    )
    skipped = []
    for _, kind, content in events:
        if kind == "file":
            name, body = content
            (cwd / name).write_text(f"# {name}\n{body}", encoding="utf-8")
            continue
        script = []
        for command in commands(content):
            reason = outside(command)
            script.append(f": skipped: {shlex.quote(reason)}" if reason else command)
            skipped += [command] if reason else []
        interactive = any(c.startswith("cookiecutter ") and "--no-input" not in c for c in script)
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", "\n".join(script)],
            cwd=cwd,
            env=env,
            input="".join(f"{line}\n" for line in TYPED[page]) if interactive else "",
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, (
            f"{page}: this block failed:\n{content}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return skipped


@pytest.mark.parametrize("page", PAGES_WITH_COMMANDS)
def test_the_commands_of_each_page_run_as_written(page, hosted, tmp_path):
    """Each page on a machine of its own: cookiecutter has not cloned the template there yet."""
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(
        yaml.safe_dump({"cookiecutters_dir": str(tmp_path / "cc"), "replay_dir": str(tmp_path / "replay")}),
        encoding="utf-8",
    )
    home = tmp_path / "home"
    home.mkdir()
    # A fresh machine: nothing of the reader's written to the real home (pip's cache excepted).
    hosted = hosted | {"COOKIECUTTER_CONFIG": str(config), "HOME": str(home), "PIP_CACHE_DIR": PIP_CACHE}
    tmp_path = home
    if page == "README.md":
        cwd = tmp_path / "checkout"  # the README's commands run in a clone of the template
        subprocess.run(
            ["git", "clone", "-q", f"https://github.com/{HOSTED}", str(cwd)], env=hosted, check=True, timeout=120
        )
    else:
        cwd = tmp_path
    skipped = run_page(page, hosted, cwd)
    if page == "README.md":
        run_page(page, hosted, cwd)  # twice: the bake commands must work again on the same checkout
        assert (cwd / "build" / "xinference" / "manifest.yaml").is_file()
    if page == "docs/workshop.md":
        assert (cwd / "xinference_ana" / ".venv").is_dir(), "the workshop's tests ran in the attendee's plugin"
    print(f"{page}: skipped {skipped}")


# --- README's set-up: two commands on a fresh clone -----------------------------------------------------


def set_up_commands() -> list[str]:
    text = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    return commands(BASH_BLOCK.search(text, text.index("## Set up")).group(1))


def fresh_clone(hosted: dict[str, str], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A clone of the template on a machine where nothing of it ran yet (pip's cache excepted)."""
    home = tmp_path / "home"
    home.mkdir()
    env = hosted | {"HOME": str(home), "PIP_CACHE_DIR": PIP_CACHE}
    clone = home / "cookiecutter-dify-model-plugin"
    subprocess.run(["git", "clone", "-q", f"https://github.com/{HOSTED}", str(clone)], env=env, check=True, timeout=120)
    return clone, env


def run_verbatim(command: str, clone: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-e", "-c", command], cwd=clone, env=env, capture_output=True, text=True, timeout=900
    )


def test_readme_sets_up_in_two_commands_the_second_being_what_the_workflow_runs():
    bake, test = set_up_commands()
    assert (bake, test) == ("bash bake.sh", "bash tests/run.sh --fast")
    workflow = (TEMPLATE / ".github" / "workflows" / "test.yml").read_text(encoding="utf-8")
    assert re.search(rf"^\s+run: {re.escape(test)}$", workflow, re.MULTILINE), "the workflow runs another command"


def test_readme_first_set_up_command_bakes_the_default_plugin_on_a_fresh_clone(hosted, tmp_path):
    bake, _ = set_up_commands()
    clone, env = fresh_clone(hosted, tmp_path)
    first = run_verbatim(bake, clone, env)
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    lines = first.stdout.splitlines()
    # What it does is said before it does it: first the bake, then each install step.
    assert lines[0] == "bake.sh: baking a plugin from this template into build/"
    assert lines[1].startswith("bake.sh: first run: making .venv-bake with ")
    assert lines[2] == "bake.sh: installing cookiecutter into .venv-bake from PyPI"
    assert lines[3:] == ["bake.sh: baked build/xinference/ (its README.md says how to run it and its tests)"]
    manifest = yaml.safe_load((clone / "build" / "xinference" / "manifest.yaml").read_text(encoding="utf-8"))
    assert manifest["name"] == "xinference"
    (clone / "build" / "xinference" / "stale.txt").write_text("from an earlier bake", encoding="utf-8")

    again = run_verbatim(bake, clone, env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.splitlines() == [lines[0], lines[-1]]
    assert not (clone / "build" / "xinference" / "stale.txt").exists(), "the earlier bake was not replaced"
    assert sorted(p.name for p in (clone / "build").iterdir()) == ["xinference"]


def test_readme_second_set_up_command_installs_and_passes_on_a_fresh_clone(hosted, tmp_path):
    """The README's test command, verbatim, on a fresh clone: it finds Python 3.12, makes `.venv`,
    installs `requirements-dev.txt` from PyPI (saying so first) and runs pytest, which passes.

    The whole fast tier cannot run here: this test is part of it and would run itself again, and
    so on. So the command runs with a narrow selection appended, which the README's command takes
    (its test table: any pytest arguments follow). That the same command, with nothing appended,
    runs the whole fast tier is what the GitHub workflow does and what the test above checks.
    """
    _, test = set_up_commands()
    clone, env = fresh_clone(hosted, tmp_path)
    done = run_verbatim(f"{test} tests/test_answers.py -k placeholder", clone, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("tests/run.sh: making .venv with "), lines[:3]
    assert lines[1].startswith("tests/run.sh: installing requirements-dev.txt into .venv from PyPI"), lines[:3]
    assert re.search(r"\b1 passed", lines[-1]), done.stdout[-1000:]
