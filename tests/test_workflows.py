"""The GitHub workflows and repository files around the code, in the template and in a baked plugin."""

import fnmatch
import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE

PLUGIN_TEMPLATE = TEMPLATE / "{{cookiecutter.provider_name}}"
PLUGIN_WORKFLOWS = ("ci.yml", "release.yml")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")
# A third-party action pinned to a release tag (v4, v4.1.6) or to a full commit SHA.
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")


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


def assert_well_kept(workflow: dict, name: str) -> None:
    """Every action is pinned, every job says where it runs, and permissions start read-only."""
    used = [step["uses"] for step in steps(workflow) if "uses" in step]
    assert used, f"{name} uses no actions"
    for action in used:
        assert PINNED.match(action), f"{name}: {action!r} is not pinned to a version"
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
    workflow = load_workflow(plugin / ".github" / "workflows" / name)
    assert_well_kept(workflow, name)
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


def test_release_packages_version_tags_with_the_pinned_dify_cli(plugin):
    workflow = load_workflow(plugin / ".github" / "workflows" / "release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    assert re.fullmatch(r"\d+\.\d+\.\d+", workflow["env"]["DIFY_CLI_VERSION"])
    assert [job.get("permissions") for job in workflow["jobs"].values()] == [{"contents": "write"}]
    commands = run_lines(workflow)
    assert "langgenius/dify-plugin-daemon/releases/download/$DIFY_CLI_VERSION/dify-plugin-linux-amd64" in commands
    assert re.search(r'dify" plugin package \. -o "\$PACKAGE"', commands)
    assert "manifest.yaml" in commands, "the package name must come from manifest.yaml at run time"
    assert "gh release upload" in commands
    uploads = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert len(uploads) == 1 and uploads[0]["with"]["if-no-files-found"] == "error"


def test_template_repository_workflow_runs_the_suite():
    workflow = load_workflow(TEMPLATE / ".github" / "workflows" / "test.yml")
    assert_well_kept(workflow, "test.yml")
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
