"""The GitHub workflows and repository files around the code, in the template and in a baked plugin."""

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE

PLUGIN_TEMPLATE = TEMPLATE / "{{cookiecutter.provider_name}}"
PLUGIN_WORKFLOWS = ("ci.yml", "release.yml")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")
# A third-party action pinned to a full commit SHA, the release tag it stands for in a comment:
# a tag can be moved to other code by whoever controls the action's repository, a commit cannot.
PINNED = re.compile(r"^\s*(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def load_workflow(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(workflow, dict), f"{path} is not a YAML mapping"
    # YAML 1.1 reads the bare key `on` as the boolean true.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def run_lines(workflow: dict) -> str:
    return "\n".join(step.get("run", "") for step in steps(workflow))


def assert_well_kept(workflow: dict, name: str, text: str) -> None:
    """Every action is pinned by commit, every job says where it runs, and permissions start read-only."""
    used = [step["uses"] for step in steps(workflow) if "uses" in step]
    assert used, f"{name} uses no actions"
    lines = [line for line in text.splitlines() if re.match(r"^\s*(- )?uses:", line)]
    assert len(lines) == len(used)
    for line in lines:
        assert PINNED.match(line), f"{name}: {line.strip()!r} is not pinned to a commit SHA with its tag in a comment"
    assert workflow.get("permissions") == {"contents": "read"}, f"{name}: top-level permissions must be contents: read"
    for job_name, job in workflow["jobs"].items():
        assert "runs-on" in job, f"{name}: job {job_name} has no runs-on"
        assert job.get("timeout-minutes"), f"{name}: job {job_name} has no timeout"


@pytest.fixture(scope="module")
def plugin(bake) -> Path:
    return bake("default")


@pytest.mark.parametrize("name", PLUGIN_WORKFLOWS)
def test_plugin_workflow_is_copied_verbatim_with_its_expressions(name, plugin):
    source = (PLUGIN_TEMPLATE / ".github" / "workflows" / name).read_text(encoding="utf-8")
    baked = (plugin / ".github" / "workflows" / name).read_text(encoding="utf-8")
    assert baked == source
    expressions = EXPRESSION.findall(baked)
    assert expressions, f"{name} has no ${{{{ }}}} expression left"
    assert not any("cookiecutter" in e for e in expressions), f"{name} needs the provider name at run time"


def test_every_template_workflow_is_copied_without_rendering():
    patterns = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))["_copy_without_render"]
    workflows = sorted((PLUGIN_TEMPLATE / ".github" / "workflows").iterdir())
    assert [p.name for p in workflows] == sorted(PLUGIN_WORKFLOWS)
    for path in workflows:
        relative = path.relative_to(PLUGIN_TEMPLATE).as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"{relative} would be rendered as Jinja"
        load_workflow(path)  # the template file itself is valid YAML


@pytest.mark.parametrize("name", PLUGIN_WORKFLOWS)
def test_plugin_workflow_pins_actions_and_limits_permissions(name, plugin):
    path = plugin / ".github" / "workflows" / name
    assert_well_kept(load_workflow(path), name, path.read_text(encoding="utf-8"))
    workflow = load_workflow(path)
    assert {job["runs-on"] for job in workflow["jobs"].values()} == {"ubuntu-latest"}


def test_ci_lints_and_tests_every_push_and_pull_request_on_python_312(plugin):
    workflow = load_workflow(plugin / ".github" / "workflows" / "ci.yml")
    assert set(workflow["on"]) == {"push", "pull_request"}
    assert workflow["on"]["push"] is None, "CI must run on every push"
    assert not any("permissions" in job for job in workflow["jobs"].values()), "CI needs nothing beyond read"
    python = [s["with"]["python-version"] for s in steps(workflow) if s.get("uses", "").startswith("actions/setup")]
    assert python == ["3.12"]
    commands = run_lines(workflow)
    for command in (
        "uv lock --check",
        "uv sync --frozen",
        "uv run --frozen ruff check .",
        "uv run --frozen ruff format --check .",
        "uv run --frozen pytest",
    ):
        assert command in commands, f"ci.yml does not run {command!r}"
    for required in ("pyproject.toml", "uv.lock", "requirements.txt", "requirements-dev.txt"):
        assert (plugin / required).is_file()


def test_release_packages_version_tags_with_a_cli_built_from_a_pinned_commit(plugin):
    workflow = load_workflow(plugin / ".github" / "workflows" / "release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    assert re.fullmatch(r"\d+\.\d+\.\d+", workflow["env"]["DIFY_CLI_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{40}", workflow["env"]["DIFY_CLI_COMMIT"]), "the CLI's source must be a commit"
    package, release = workflow["jobs"]["package"], workflow["jobs"]["release"]
    # The job that builds and runs the CLI can only read; the one that writes runs no build.
    assert "permissions" not in package and release["permissions"] == {"contents": "write"}
    assert release["needs"] == "package"
    assert [s["uses"].split("@")[0] for s in release["steps"] if "uses" in s] == ["actions/download-artifact"]
    commands = run_lines(workflow)
    assert "curl" not in commands and "wget" not in commands and "releases/download" not in commands
    daemon = [s for s in package["steps"] if s.get("with", {}).get("repository") == "langgenius/dify-plugin-daemon"]
    assert [s["with"]["ref"] for s in daemon] == ["${{ env.DIFY_CLI_COMMIT }}"]
    assert 'test "$(git rev-parse HEAD)" = "$DIFY_CLI_COMMIT"' in commands
    assert re.search(r"go build -mod=readonly .* \./cmd/commandline", commands.replace("\\\n", " "))
    assert re.search(r'dify" plugin package plugin -o "\$PACKAGE"', commands)
    assert "manifest.yaml" in commands, "the package name must come from manifest.yaml at run time"
    assert "gh release upload" in commands
    uploads = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert len(uploads) == 1 and uploads[0]["with"]["if-no-files-found"] == "error"


def test_ci_installs_uv_only_from_a_wheel_with_a_pinned_hash(plugin, tmp_path):
    """The digests in ci.yml are PyPI's for the pinned uv: pip installs it with them, here, for real."""
    commands = run_lines(load_workflow(plugin / ".github" / "workflows" / "ci.yml"))
    requirement = re.search(r"<< 'EOF'\n(.*?)\nEOF", commands, flags=re.DOTALL).group(1)
    assert re.match(r"uv==\d+\.\d+\.\d+ \\", requirement) and requirement.count("--hash=sha256:") >= 2
    assert "--require-hashes --only-binary :all:" in commands
    (tmp_path / "uv.txt").write_text(requirement + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes", "--only-binary", ":all:"]
        + ["-r", str(tmp_path / "uv.txt"), "-d", str(tmp_path / "wheels")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list((tmp_path / "wheels").glob("uv-*.whl"))) == 1


def test_template_repository_workflow_runs_the_suite():
    path = TEMPLATE / ".github" / "workflows" / "test.yml"
    workflow = load_workflow(path)
    assert_well_kept(workflow, "test.yml", path.read_text(encoding="utf-8"))
    assert set(workflow["on"]) == {"push", "pull_request"}
    (job,) = workflow["jobs"].values()
    assert "ubuntu-latest" in job["strategy"]["matrix"]["os"]
    assert "bash tests/run.sh" in run_lines(workflow)


def test_pre_commit_runs_pinned_ruff_hooks(plugin):
    config = yaml.safe_load((plugin / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    (repo,) = config["repos"]
    assert repo["repo"] == "https://github.com/astral-sh/ruff-pre-commit"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", repo["rev"])
    assert [hook["id"] for hook in repo["hooks"]] == ["ruff-check", "ruff-format"]


def test_gitattributes_force_lf_and_keep_binaries_binary(plugin):
    for root in (TEMPLATE, plugin):
        rules = [line.split() for line in (root / ".gitattributes").read_text(encoding="utf-8").splitlines()]
        rules = [rule for rule in rules if rule and not rule[0].startswith("#")]
        assert ["*", "text=auto", "eol=lf"] in rules, f"{root}/.gitattributes does not force LF"
        assert ["*.png", "binary"] in rules
