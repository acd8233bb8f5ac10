"""Bad input through the real `cookiecutter` command: one line per bad answer, exit 1, nothing left behind."""

import ast
import contextlib
import datetime
import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE, offline_env, registration
from cookiecutter.main import cookiecutter

ONE_LINE_TIMEOUT = 60


@pytest.fixture(scope="session")
def config_file(tmp_path_factory) -> Path:
    """A cookiecutter config that keeps replay files out of the user's home directory."""
    root = tmp_path_factory.mktemp("cookiecutter-config")
    path = root / "config.yaml"
    settings = {"cookiecutters_dir": str(root / "cookiecutters"), "replay_dir": str(root / "replay")}
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


@pytest.fixture
def out(tmp_path) -> Path:
    """An empty output directory for one bake."""
    path = tmp_path / "out"
    path.mkdir()
    return path


def with_defaults(config_file: Path, tmp_path: Path, default_context: dict) -> Path:
    """A copy of `config_file` that also gives `default_context`, as a user's config file would."""
    settings = yaml.safe_load(config_file.read_text(encoding="utf-8")) | {"default_context": default_context}
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return path


def cookiecutter_cli(config_file: Path, out: Path, *args: str, stdin: str | None = None, no_input: bool = True):
    """Run `python -m cookiecutter <template> [--no-input] --output-dir <out> args...`."""
    command = [sys.executable, "-m", "cookiecutter", str(TEMPLATE), "--output-dir", str(out)]
    command += ["--config-file", str(config_file)]
    if no_input:
        command.append("--no-input")
    return subprocess.run(
        command + list(args),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=ONE_LINE_TIMEOUT,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def cookiecutter_api(config_file: Path, out: Path, given: dict) -> subprocess.CompletedProcess:
    """Bake with cookiecutter.main.cookiecutter in this process; SystemExit becomes the exit status."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            cookiecutter(
                str(TEMPLATE), no_input=True, extra_context=given, output_dir=str(out), config_file=str(config_file)
            )
            status = 0
        except SystemExit as stop:
            status = stop.code
    return subprocess.CompletedProcess(["cookiecutter"], status, stdout.getvalue(), stderr.getvalue())


def refusal_lines(done: subprocess.CompletedProcess) -> list[str]:
    """The lines a refused bake prints: on stderr, one `error:` line per bad answer, nothing else."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == "", done.stdout
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), done.stderr
    return lines


def the_one_line(done: subprocess.CompletedProcess) -> str:
    lines = refusal_lines(done)
    assert len(lines) == 1, done.stderr
    return lines[0]


def bad(id: str, answer: str, rule: str, **given: str):
    """One bad answer set: the answers given, and the answer and rule the error must name."""
    return pytest.param(given, answer, rule, id=id)


NAME_RULE = "must match ^[a-z0-9_-]{1,128}$"
NAME_ENDS_RULE = "must start and end with a letter or digit"
AUTHOR_RULE = "must match ^[a-z0-9_-]{1,64}$"
VERSION_RULE = "must look like 1.2.3 or 1.2.3-beta1"
URL_RULE = "must be an http(s) URL with a host"
MARKUP_RULE = "must not contain Jinja markup"
YES_NO_RULE = "must be yes or no"
SINGLE_LINE_RULE = "must be a single line"
CONTROL_RULE = "must not contain control or non-printable characters"
CHOICE_RULE = "must be one of"
UNKNOWN_RULE = "is not an answer of this template"
PRIVATE_RULE = "is set by the template"
EMPTY_RULE = "must not be empty"
TOO_LONG_RULE = "must be at most 1023 characters"
RESERVED_AUTHOR_RULE = "must not contain 'langgenius' or 'dify'"
RFC3339_RULE = "must be an RFC 3339 time"
CALENDAR_RULE = "must be a real calendar time"
OFFSET_RULE = "must have a UTC offset between -23:59 and +23:59"

BAD_ANSWERS = [
    bad("name-with-space-and-capitals", "provider_name", NAME_RULE, provider_name="My Provider"),
    bad("name-empty", "provider_name", NAME_RULE, provider_name=""),
    bad("name-with-empty-slug", "provider_name", NAME_RULE, provider_name="!!!"),
    bad("name-and-label-with-empty-slug", "provider_name", NAME_RULE, provider_name="!!!", provider_label="###"),
    bad("name-uppercase", "provider_name", NAME_RULE, provider_name="Acme"),
    bad("name-with-dot", "provider_name", NAME_RULE, provider_name="acme.ai"),
    bad("name-path-traversal", "provider_name", NAME_RULE, provider_name="../acme"),
    bad("name-too-long", "provider_name", NAME_RULE, provider_name="a" * 129),
    bad("name-trailing-newline", "provider_name", NAME_RULE, provider_name="acme\n"),
    bad("name-non-ascii", "provider_name", NAME_RULE, provider_name="ácme"),
    bad("name-dash", "provider_name", NAME_ENDS_RULE, provider_name="-"),
    bad("name-minus-one", "provider_name", NAME_ENDS_RULE, provider_name="-1"),
    bad("name-underscore-first", "provider_name", NAME_ENDS_RULE, provider_name="_acme"),
    bad("name-dash-last", "provider_name", NAME_ENDS_RULE, provider_name="acme-"),
    bad("label-derives-no-name", "provider_label", "gives no usable provider_name", provider_label="阿里云"),
    bad("label-of-punctuation-only", "provider_label", "gives no usable provider_name", provider_label="~"),
    bad("label-empty", "provider_label", EMPTY_RULE, provider_label="", provider_name="acme"),
    bad("label-blank", "provider_label", EMPTY_RULE, provider_label="   ", provider_name="acme"),
    bad("label-with-tab", "provider_label", SINGLE_LINE_RULE, provider_label="Acme\tAI"),
    bad("label-with-newline", "provider_label", SINGLE_LINE_RULE, provider_label="Acme\nAI"),
    bad("label-too-long", "provider_label", TOO_LONG_RULE, provider_label="x" * 1024, provider_name="acme"),
    bad("label-with-del", "provider_label", CONTROL_RULE, provider_label="Acme\x7f"),
    bad("label-with-line-separator", "provider_label", CONTROL_RULE, provider_label="Acme\u2028AI"),
    bad("label-jinja-expression", "provider_label", MARKUP_RULE, provider_label="{{ 7*7 }}", provider_name="acme"),
    bad("label-jinja-syntax-error", "provider_label", MARKUP_RULE, provider_label="{{", provider_name="acme"),
    bad("label-jinja-undefined-name", "provider_label", MARKUP_RULE, provider_label="{{ nope }}", provider_name="a"),
    bad("label-jinja-block", "provider_label", MARKUP_RULE, provider_label="{% raw %}x", provider_name="acme"),
    bad("label-jinja-comment", "provider_label", MARKUP_RULE, provider_label="Acme {# note #}"),
    bad("zh-label-with-tab", "provider_label_zh_hans", SINGLE_LINE_RULE, provider_label_zh_hans="模型\t服务"),
    bad("zh-label-jinja", "provider_label_zh_hans", MARKUP_RULE, provider_label_zh_hans="{{ 1 }}"),
    bad("description-empty", "description", EMPTY_RULE, description=""),
    bad("description-carriage-return", "description", CONTROL_RULE, description="one\rtwo"),
    bad("description-too-long", "description", TOO_LONG_RULE, description="d" * 1024),
    bad("description-jinja", "description", MARKUP_RULE, description="{%- if 1 %}x{% endif %}"),
    bad("author-with-space", "author", AUTHOR_RULE, author="Your Name"),
    bad("author-empty", "author", AUTHOR_RULE, author=""),
    bad("author-too-long", "author", AUTHOR_RULE, author="a" * 65),
    bad("author-langgenius", "author", RESERVED_AUTHOR_RULE, author="langgenius"),
    bad("author-dify", "author", RESERVED_AUTHOR_RULE, author="my-dify-team"),
    bad("author-uuid", "author", "must not be a UUID", author="123e4567-e89b-12d3-a456-426614174000"),
    bad("version-one-part", "version", VERSION_RULE, version="1"),
    bad("version-two-parts", "version", VERSION_RULE, version="1.0"),
    bad("version-v-prefix", "version", VERSION_RULE, version="v1.0.0"),
    bad("version-five-digits", "version", VERSION_RULE, version="12345.0.0"),
    bad("version-non-pep440-suffix", "version", VERSION_RULE, version="1.2.3-foo"),
    bad("version-dotted-suffix", "version", VERSION_RULE, version="1.2.3-beta.1"),
    bad("version-arabic-indic-digits", "version", VERSION_RULE, version="١.٠.٠"),
    bad("url-ftp", "help_url", URL_RULE, help_url="ftp://example.com"),
    bad("url-plain-text", "help_url", URL_RULE, help_url="not a url"),
    bad("url-without-scheme", "help_url", URL_RULE, help_url="docs.example.com/setup"),
    bad("url-unbalanced-bracket", "help_url", URL_RULE, help_url="http://[bad"),
    bad("url-without-host", "help_url", URL_RULE, help_url="https:///docs"),
    bad("yes-no-maybe", "with_llm", YES_NO_RULE, with_llm="maybe"),
    bad("yes-no-number", "with_tts", YES_NO_RULE, with_tts="2"),
    bad("yes-no-bad-even-when-list-wins", "with_llm", YES_NO_RULE, with_llm="maybe", model_types="llm"),
    bad("yes-no-contradicts-the-list", "with_tts", "contradicts model_types", with_tts="yes", model_types="llm"),
    bad(
        "no-model-type-chosen",
        "model_types",
        "at least one model type must be chosen",
        with_llm="no",
        with_text_embedding="no",
        with_rerank="no",
    ),
    bad("model-types-empty-item", "model_types", "no empty items", model_types="llm,,tts"),
    bad("model-types-unknown", "model_types", "unknown model type", model_types="gpt"),
    bad("model-types-misspelt", "model_types", 'unknown model type "rerankk"', model_types="llm,rerankk"),
    bad("model-types-duplicate", "model_types", "must not list llm twice", model_types="llm,LLM"),
    bad("model-types-duplicate-spelling", "model_types", "twice", model_types="text_embedding,text-embedding"),
    bad("method-unknown", "configurate_method", CHOICE_RULE, configurate_method="custom"),
    bad("method-empty", "configurate_method", CHOICE_RULE, configurate_method=""),
    bad("implementation-unknown", "implementation", CHOICE_RULE, implementation="openai"),
    bad("unknown-answer-typo", "provider_nam", UNKNOWN_RULE, provider_nam="acme"),
    bad("unknown-answer", "modeltypes", UNKNOWN_RULE, modeltypes="llm"),
    bad("private-check-variable", "__checked", PRIVATE_RULE, __checked="ok"),
    bad("private-checked", "__checked", PRIVATE_RULE, __checked="x\nauthor: evil"),
    bad("created-at-not-rfc3339", "created_at", RFC3339_RULE, created_at="yesterday"),
    bad("created-at-date-only", "created_at", RFC3339_RULE, created_at="2026-01-31"),
    bad("created-at-february-30", "created_at", CALENDAR_RULE, created_at="2026-02-30T00:00:00Z"),
    bad("created-at-not-a-leap-year", "created_at", CALENDAR_RULE, created_at="2025-02-29T00:00:00Z"),
    bad("created-at-month-13", "created_at", CALENDAR_RULE, created_at="2026-13-01T00:00:00Z"),
    bad("created-at-month-0", "created_at", CALENDAR_RULE, created_at="2026-00-10T00:00:00Z"),
    bad("created-at-day-0", "created_at", CALENDAR_RULE, created_at="2026-01-00T00:00:00Z"),
    bad("created-at-year-0", "created_at", CALENDAR_RULE, created_at="0000-01-01T00:00:00Z"),
    bad("created-at-hour-24", "created_at", CALENDAR_RULE, created_at="2026-01-31T24:00:00Z"),
    bad("created-at-minute-60", "created_at", CALENDAR_RULE, created_at="2026-01-31T12:60:00Z"),
    bad("created-at-leap-second", "created_at", CALENDAR_RULE, created_at="2026-06-30T23:59:60Z"),
    bad("created-at-offset-99", "created_at", OFFSET_RULE, created_at="2026-01-31T12:00:00+99:99"),
    bad("created-at-offset-24h", "created_at", OFFSET_RULE, created_at="2026-01-31T12:00:00-24:00"),
    bad("created-at-offset-minutes-60", "created_at", OFFSET_RULE, created_at="2026-01-31T12:00:00+05:60"),
    bad("created-at-ten-fraction-digits", "created_at", RFC3339_RULE, created_at="2026-01-31T12:00:00.1234567890Z"),
]
# One of each kind goes through the real CLI in a subprocess (~0.2 s each); all of them go
# through cookiecutter's Python API in-process, which takes the same path up to the CLI.
THROUGH_THE_CLI = {
    "name-with-space-and-capitals",
    "name-and-label-with-empty-slug",
    "name-trailing-newline",
    "name-minus-one",
    "label-with-tab",
    "label-jinja-syntax-error",
    "label-jinja-undefined-name",
    "zh-label-jinja",
    "description-carriage-return",
    "author-uuid",
    "version-arabic-indic-digits",
    "url-unbalanced-bracket",
    "yes-no-maybe",
    "no-model-type-chosen",
    "model-types-unknown",
    "method-unknown",
    "implementation-unknown",
    "unknown-answer-typo",
    "private-check-variable",
    "created-at-february-30",
    "created-at-offset-99",
}
CLI_ANSWERS = [case for case in BAD_ANSWERS if case.id in THROUGH_THE_CLI]


def assert_refused(done: subprocess.CompletedProcess, out: Path, given: dict, answer: str, rule: str) -> None:
    line = the_one_line(done)
    assert line.startswith(f"error: {answer}: "), line
    assert rule in line, line
    value = given.get(answer, "")
    if answer in given and value.isprintable() and len(value) <= 80:
        assert f"(got {json.dumps(value, ensure_ascii=False)})" in line, line
    assert "); " in line, f"no hint on how to fix it: {line}"
    assert list(out.iterdir()) == [], "a refused bake left files behind"


def test_there_are_at_least_sixty_bad_answer_sets():
    assert len(BAD_ANSWERS) >= 60, len(BAD_ANSWERS)
    assert len(CLI_ANSWERS) == len(THROUGH_THE_CLI)


@pytest.mark.parametrize(("given", "answer", "rule"), CLI_ANSWERS)
def test_bad_answer_on_the_command_line_prints_one_line_naming_answer_rule_value_and_fix(
    given, answer, rule, config_file, out
):
    done = cookiecutter_cli(config_file, out, *(f"{key}={value}" for key, value in given.items()))
    assert done.returncode == 1
    assert_refused(done, out, given, answer, rule)


@pytest.mark.parametrize(("given", "answer", "rule"), BAD_ANSWERS)
def test_bad_answer_through_the_python_api_prints_one_line_and_exits_1(given, answer, rule, config_file, out):
    done = cookiecutter_api(config_file, out, given)
    assert done.returncode == 1
    assert_refused(done, out, given, answer, rule)


def test_my_provider_prints_the_documented_line_and_creates_nothing(config_file, out):
    done = cookiecutter_cli(config_file, out, "provider_name=My Provider")
    assert the_one_line(done) == (
        'error: provider_name: must match ^[a-z0-9_-]{1,128}$ (got "My Provider"); try provider_name=my_provider'
    )
    assert list(out.iterdir()) == []


# Ten bad answers at once, as the attendee gave them; each line in question order.
MANY_BAD = {
    "provider_nmae": "acme",
    "provider_label": "Acme {{ 7*7 }}",
    "provider_name": "My Plugin",
    "author": "Your Name",
    "help_url": "docs.acme.example",
    "model_types": "llm,rerankk",
    "with_llm": "maybe",
    "configurate_method": "predefined",
    "implementation": "openai",
    "version": "1.0",
    "created_at": "2026-02-30T00:00:00Z",
}
MANY_BAD_LINES = [
    'error: provider_nmae: is not an answer of this template (got "acme"); did you mean provider_name?',
    'error: provider_label: must not contain Jinja markup ({{ }}, {% %} or {# #}) (got "Acme {{ 7*7 }}"); '
    "answers are used as plain text; remove the braces",
    'error: provider_name: must match ^[a-z0-9_-]{1,128}$ (got "My Plugin"); try provider_name=my_plugin',
    'error: author: must match ^[a-z0-9_-]{1,64}$ (got "Your Name"); try author=your-name',
    'error: help_url: must be an http(s) URL with a host (got "docs.acme.example"); '
    "try help_url=https://docs.acme.example",
    'error: model_types: has unknown model type "rerankk" (got "llm,rerankk"); did you mean rerank?',
    'error: with_llm: must be yes or no (got "maybe"); try with_llm=yes or with_llm=no',
    "error: configurate_method: must be one of customizable-model, predefined-model, both "
    '(got "predefined"); did you mean configurate_method=predefined-model?',
    "error: implementation: must be one of openai-compatible, blank "
    '(got "openai"); did you mean implementation=openai-compatible?',
    r"error: version: must look like 1.2.3 or 1.2.3-beta1 (^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$, PEP 440 suffix) "
    '(got "1.0"); try version=1.0.0',
    "error: created_at: must be a real calendar time (day is out of range for month) "
    '(got "2026-02-30T00:00:00Z"); e.g. created_at=2026-01-31T12:00:00Z, or leave it out for the time of the bake',
]


def test_every_bad_answer_on_the_command_line_is_reported_at_once(config_file, out):
    done = cookiecutter_cli(config_file, out, *(f"{key}={value}" for key, value in MANY_BAD.items()))
    assert refusal_lines(done) == MANY_BAD_LINES
    assert list(out.iterdir()) == []


def test_every_bad_answer_in_a_config_file_is_reported_at_once(config_file, out, tmp_path):
    answers_file = with_defaults(config_file, tmp_path, MANY_BAD)
    done = cookiecutter_cli(answers_file, out)
    assert refusal_lines(done) == MANY_BAD_LINES
    assert list(out.iterdir()) == []


def test_every_bad_answer_through_the_python_api_is_reported_at_once(config_file, out):
    assert refusal_lines(cookiecutter_api(config_file, out, MANY_BAD)) == MANY_BAD_LINES
    assert list(out.iterdir()) == []


# --- answers a YAML reader would take for something else -----------------------------------------

YAML_SPECIALS = [
    "123",
    "0",
    "007",
    "true",
    "false",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "null",
    "none",
    "0x1f",
    "0o17",
    "0b11",
    "1_000",
    "1e3",
    "12e-3",
    "nan",
    "inf",
    "2026-01-31",
    "class",
    "import",
]
AUTHOR_ONLY_SPECIALS = ["-", "_", "-1", "--", "-_-"]


@pytest.mark.parametrize("value", YAML_SPECIALS)
def test_a_yaml_special_name_and_author_give_a_plugin_that_starts_with_them(value, config_file, out):
    done = cookiecutter_cli(config_file, out, f"provider_name={value}", f"author={value}", "model_types=llm")
    assert done.returncode == 0, done.stderr
    plugin = out / value
    manifest = yaml.safe_load((plugin / "manifest.yaml").read_text(encoding="utf-8"))
    provider = yaml.safe_load((plugin / "provider" / f"{value}.yaml").read_text(encoding="utf-8"))
    assert (manifest["name"], manifest["author"], provider["provider"]) == (value, value, value)
    assert json.loads((plugin / ".cookiecutter.json").read_text(encoding="utf-8"))["provider_name"] == value
    registered = registration(sys.executable, plugin, offline_env())
    assert (registered["name"], registered["author"]) == (value, value)


@pytest.mark.parametrize("value", AUTHOR_ONLY_SPECIALS)
def test_an_author_yaml_reads_as_a_list_marker_or_number_is_quoted(value, config_file, out):
    done = cookiecutter_api(config_file, out, {"provider_name": "acme", "author": value, "model_types": "rerank"})
    assert done.returncode == 0, done.stderr
    manifest = yaml.safe_load((out / "acme" / "manifest.yaml").read_text(encoding="utf-8"))
    assert manifest["author"] == value


@pytest.mark.parametrize("value", ["-", "-1", "--", "_", "1_", "-abc"])
def test_a_name_python_packaging_refuses_is_refused_with_a_fix(value, config_file, out):
    line = the_one_line(cookiecutter_api(config_file, out, {"provider_name": value}))
    assert line.startswith("error: provider_name: must start and end with a letter or digit"), line


@pytest.mark.parametrize(
    "created_at",
    [
        "2024-02-29T23:59:59Z",
        "2026-01-31T12:00:00+23:59",
        "2026-01-31T12:00:00-05:30",
        "0001-01-01T00:00:00.123456789Z",
    ],
)
def test_an_unusual_but_real_created_at_gives_a_plugin_that_starts_with_it(created_at, config_file, out):
    done = cookiecutter_cli(config_file, out, f"created_at={created_at}", "provider_name=timed", "model_types=tts")
    assert done.returncode == 0, done.stderr
    manifest = yaml.safe_load((out / "timed" / "manifest.yaml").read_text(encoding="utf-8"))
    expected = datetime.datetime.fromisoformat(created_at.replace(".123456789", ".123456"))
    assert manifest["created_at"] == expected
    assert registration(sys.executable, out / "timed", offline_env())["name"] == "timed"


# --- config files ------------------------------------------------------------------------------------


def test_a_misspelt_answer_in_a_config_file_is_refused(config_file, out, tmp_path):
    done = cookiecutter_cli(with_defaults(config_file, tmp_path, {"author": "acme", "modle_types": "llm"}), out)
    assert the_one_line(done) == (
        'error: modle_types: is not an answer of this template (got "llm"); did you mean model_types?'
    )
    assert list(out.iterdir()) == []


def test_answers_of_other_templates_in_a_config_file_are_left_alone(config_file, out, tmp_path):
    shared = {"full_name": "Ana B", "email": "ana@example.com", "github_username": "ana-b", "author": "ana-b"}
    done = cookiecutter_cli(with_defaults(config_file, tmp_path, shared), out)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((out / "xinference" / "manifest.yaml").read_text(encoding="utf-8"))["author"] == "ana-b"


def test_a_yaml_list_of_model_types_in_a_config_file_chooses_them_all(config_file, out, tmp_path):
    config = with_defaults(config_file, tmp_path, {"provider_name": "listed", "model_types": ["rerank", "llm", "tts"]})
    done = cookiecutter_cli(config, out)
    assert done.returncode == 0, done.stderr
    provider = yaml.safe_load((out / "listed" / "provider" / "listed.yaml").read_text(encoding="utf-8"))
    assert provider["supported_model_types"] == ["llm", "rerank", "tts"]
    type_folders = [p.name for p in (out / "listed" / "models").iterdir() if (p / f"{p.name}.py").is_file()]
    assert sorted(type_folders) == ["llm", "rerank", "tts"]


def test_yaml_booleans_in_a_config_file_choose_model_types(config_file, out, tmp_path):
    config = with_defaults(config_file, tmp_path, {"provider_name": "flags", "with_rerank": False, "with_tts": True})
    done = cookiecutter_cli(config, out)
    assert done.returncode == 0, done.stderr
    provider = yaml.safe_load((out / "flags" / "provider" / "flags.yaml").read_text(encoding="utf-8"))
    assert provider["supported_model_types"] == ["llm", "text-embedding", "tts"]


@pytest.mark.parametrize(
    ("answer", "written", "says"),
    [
        ("author", "yes", "YAML read it as a boolean: put the value in quotes"),
        ("created_at", "2026-01-31T12:00:00Z", "YAML read it as a date: put the value in quotes"),
        ("version", "1.0", "YAML read it as a number: put the value in quotes"),
    ],
)
def test_a_config_value_yaml_turned_into_another_type_gets_the_quoting_hint(
    answer, written, says, config_file, out, tmp_path
):
    config = tmp_path / "answers.yaml"
    config.write_text(
        config_file.read_text(encoding="utf-8") + f"default_context:\n  {answer}: {written}\n", encoding="utf-8"
    )
    line = the_one_line(cookiecutter_cli(config, out))
    assert line.startswith(f"error: {answer}: ") and line.endswith(says), line


# --- existing folders, interruptions, replay ---------------------------------------------------------


def test_existing_plugin_folder_is_refused_and_left_alone_with_the_safe_way_out(config_file, out):
    assert cookiecutter_cli(config_file, out).returncode == 0
    manifest = out / "xinference" / "manifest.yaml"
    before = manifest.read_bytes()
    manifest.touch()
    stamp = manifest.stat().st_mtime_ns

    line = the_one_line(cookiecutter_cli(config_file, out))
    assert line.startswith("error: provider_name: must not name a folder that already exists"), line
    assert json.dumps(str(out / "xinference")) in line
    assert "--output-dir" in line and "docs/non-interactive.md#re-baking-or-updating-a-plugin-you-edited" in line
    # The flag that would replace the folder is named only together with what it destroys.
    assert "--overwrite-if-exists would overwrite your edits and delete the folders of types not chosen" in line
    assert manifest.read_bytes() == before and manifest.stat().st_mtime_ns == stamp


def test_existing_plugin_folder_is_replaced_with_overwrite_if_exists(config_file, out):
    (out / "xinference").mkdir()
    done = cookiecutter_cli(config_file, out, "--overwrite-if-exists")
    assert done.returncode == 0, done.stderr
    assert (out / "xinference" / "manifest.yaml").is_file()


def test_what_overwrite_if_exists_does_to_an_edited_plugin_is_what_the_refusal_says(config_file, out):
    """The consequences the one-line refusal names, shown: edits overwritten, an unchosen type's folder deleted."""
    assert cookiecutter_cli(config_file, out, "model_types=llm,rerank").returncode == 0
    llm = out / "xinference" / "models" / "llm" / "llm.py"
    llm.write_text(llm.read_text(encoding="utf-8") + "# my edit\n", encoding="utf-8")
    mine = out / "xinference" / "models" / "rerank" / "my_helper.py"
    mine.write_text("HELPER = 1\n", encoding="utf-8")

    assert cookiecutter_cli(config_file, out, "model_types=llm", "--overwrite-if-exists").returncode == 0
    assert "# my edit" not in llm.read_text(encoding="utf-8")
    assert not mine.parent.exists()


def test_leftover_of_an_interrupted_bake_is_named_with_the_way_out(config_file, out):
    partial = out / "xinference" / "models"
    partial.mkdir(parents=True)
    line = the_one_line(cookiecutter_cli(config_file, out))
    assert "already exists" in line and json.dumps(str(out / "xinference")) in line, line
    assert partial.is_dir(), "the leftover is the user's to remove"


def test_tampered_replay_file_is_still_refused_by_the_pre_generation_hook(config_file, out, tmp_path):
    replay = tmp_path / "replay.json"
    assert cookiecutter_cli(config_file, tmp_path / "first").returncode == 0
    recorded = json.loads((config_file.parent / "replay" / f"{TEMPLATE.name}.json").read_text(encoding="utf-8"))
    recorded["cookiecutter"] |= {"version": "1.0", "author": "Your Name", "provider_nmae": "acme"}
    replay.write_text(json.dumps(recorded), encoding="utf-8")

    command = [sys.executable, "-m", "cookiecutter", str(TEMPLATE), "--output-dir", str(out)]
    done = subprocess.run(
        command + ["--config-file", str(config_file), "--replay-file", str(replay)],
        capture_output=True,
        text=True,
        timeout=ONE_LINE_TIMEOUT,
    )
    assert done.returncode != 0
    reported = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert [line.split(":")[1].strip() for line in reported] == ["provider_nmae", "author", "version"], done.stderr
    assert list(out.iterdir()) == []


# --- typed at the prompt (a pipe; tests/test_interactive.py drives a real terminal) -----------------

ASKED = [
    "provider_label",
    "provider_name",
    "author",
    "description",
    "help_url",
    "with_llm",
    "with_text_embedding",
    "with_rerank",
    "with_speech2text",
    "with_tts",
    "with_moderation",
    "configurate_method",
    "implementation",
]


def typed(**chosen: str) -> str:
    """Lines for the questions cookiecutter asks, in order; an empty line keeps the default."""
    return "".join(f"{chosen.get(key, '')}\n" for key in ASKED)


def test_only_the_documented_questions_are_asked():
    context = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    not_asked = {"repository_url", "contact", "model_types", "provider_label_zh_hans", "version", "created_at"}
    not_asked |= {"import_models_from"}
    assert [key for key in context if not key.startswith("_") and key not in not_asked] == ASKED


def test_answers_typed_at_the_prompts_bake_the_plugin(config_file, out):
    stdin = typed(provider_label="Acme AI", with_tts="y", with_text_embedding="n", configurate_method="3")
    done = cookiecutter_cli(config_file, out, stdin=stdin, no_input=False)
    assert done.returncode == 0, done.stdout + done.stderr
    provider = yaml.safe_load((out / "acme_ai" / "provider" / "acme_ai.yaml").read_text(encoding="utf-8"))
    assert provider["label"]["en_US"] == "Acme AI"
    assert provider["supported_model_types"] == ["llm", "rerank", "tts"]
    assert provider["configurate_methods"] == ["predefined-model", "customizable-model"]


def test_a_bad_typed_answer_prints_its_line_and_is_asked_again(config_file, out):
    stdin = typed(
        provider_label="Acme {{ 7*7 }}\nAcme AI",
        provider_name="acme",
        author="acme-team",
        help_url="https://docs.acme.example/",
    )
    done = cookiecutter_cli(config_file, out, stdin=stdin, no_input=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        'error: provider_label: must not contain Jinja markup ({{ }}, {% %} or {# #}) (got "Acme {{ 7*7 }}"); '
        "answers are used as plain text; remove the braces"
    ]
    assert done.stdout.count("Display name in Dify") == 2
    manifest = yaml.safe_load((out / "acme" / "manifest.yaml").read_text(encoding="utf-8"))
    assert manifest["label"]["en_US"] == "Acme AI"


def test_an_interactive_bake_that_kept_the_placeholders_ends_with_one_notice(config_file, out):
    done = cookiecutter_cli(config_file, out, stdin=typed(provider_label="Acme AI"), no_input=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        'notice: author is still "your-name" (manifest.yaml) and help_url still links Xinference\'s docs '
        "(provider/acme_ai.yaml): edit before you publish"
    ]


def test_an_interactive_bake_of_xinference_by_its_author_prints_no_notice(config_file, out):
    done = cookiecutter_cli(config_file, out, stdin=typed(author="ana-b"), no_input=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""


def test_a_bake_without_prompts_keeping_the_placeholders_stays_quiet(config_file, out):
    done = cookiecutter_cli(config_file, out, "provider_label=Acme AI")
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")
    assert yaml.safe_load((out / "acme_ai" / "manifest.yaml").read_text(encoding="utf-8"))["author"] == "your-name"


def test_a_suggested_fix_typed_back_as_shown_is_taken(config_file, out):
    stdin = typed(provider_label="Acme AI", provider_name="My Plugin\nprovider_name=my_plugin", author="ana-b")
    done = cookiecutter_cli(config_file, out, stdin=stdin, no_input=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.splitlines()[0].endswith("; try provider_name=my_plugin")
    assert sorted(p.name for p in out.iterdir()) == ["my_plugin"]


def test_enter_after_a_taken_folder_name_takes_the_free_name_proposed(config_file, out):
    (out / "xinference").mkdir()
    (out / "xinference_2").mkdir()
    done = cookiecutter_cli(config_file, out, stdin=typed(provider_name="\n", author="ana-b"), no_input=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (complaint,) = done.stderr.splitlines()
    assert "must not name a folder that already exists" in complaint and "provider_name=xinference_3," in complaint
    assert "(xinference_3)" in done.stdout  # the default shown at the question asked again
    assert (out / "xinference_3" / "manifest.yaml").is_file()


def test_a_label_that_gives_no_name_is_named_with_what_to_do(config_file, out):
    assert the_one_line(cookiecutter_cli(config_file, out, "provider_label=~")) == (
        'error: provider_label: gives no usable provider_name: it has no ASCII letters or digits (got "~"); '
        "give provider_name=my_provider as well, or put such letters in the label"
    )
    done = cookiecutter_cli(config_file, out, "provider_label=~", "provider_name=tilde")
    assert done.returncode == 0, done.stderr


def test_model_types_given_on_the_command_line_skip_the_yes_no_questions(config_file, out):
    stdin = "".join(f"{answer}\n" for answer in ["Acme AI", "", "", "", "", "", ""])
    done = cookiecutter_cli(config_file, out, "model_types=rerank,llm", stdin=stdin, no_input=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "model type?" not in done.stdout and "[7/7]" in done.stdout
    provider = yaml.safe_load((out / "acme_ai" / "provider" / "acme_ai.yaml").read_text(encoding="utf-8"))
    assert provider["supported_model_types"] == ["llm", "rerank"]


def test_yaml_booleans_from_a_config_file_are_the_defaults_of_the_same_yes_no_questions(config_file, out, tmp_path):
    config = with_defaults(config_file, tmp_path, {"with_tts": True, "with_rerank": False})
    done = cookiecutter_cli(config, out, stdin=typed(provider_label="Acme AI"), no_input=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[10/13] Include a text-to-speech model type?" in re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)
    provider = yaml.safe_load((out / "acme_ai" / "provider" / "acme_ai.yaml").read_text(encoding="utf-8"))
    assert provider["supported_model_types"] == ["llm", "text-embedding", "tts"]


def test_a_bad_answer_on_the_command_line_is_refused_before_the_first_question(config_file, out):
    done = cookiecutter_cli(config_file, out, "author=Ana B", "modle_types=llm", stdin=typed(), no_input=False)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        'error: modle_types: is not an answer of this template (got "llm"); did you mean model_types?',
        'error: author: must match ^[a-z0-9_-]{1,64}$ (got "Ana B"); try author=ana-b',
    ]
    assert "Plugin id" not in done.stdout
    assert list(out.iterdir()) == []


def test_ctrl_c_at_a_prompt_aborts_with_one_word_and_creates_nothing(config_file, out):
    command = [sys.executable, "-m", "cookiecutter", str(TEMPLATE), "--output-dir", str(out)]
    command += ["--config-file", str(config_file)]
    # Ctrl-C comes from a terminal, where SIGINT has its default action. This suite may itself run
    # with SIGINT ignored (a background job of a script), which a child would inherit and keep.
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=0
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        prompt = ""
        while "Display name" not in prompt:  # wait until cookiecutter asks its first question
            chunk = process.stdout.read(1)
            assert chunk, "cookiecutter exited before prompting"
            prompt += chunk
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=ONE_LINE_TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 1
    assert stderr.strip() == "Aborted!"
    assert list(out.iterdir()) == []


# --- what accepted answers give ----------------------------------------------------------------------


def test_label_with_quotes_colon_and_hash_reads_back_exactly(config_file, out):
    label = 'Acme: "fast" #1'
    done = cookiecutter_cli(config_file, out, f"provider_label={label}", "provider_name=acme")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    manifest = yaml.safe_load((out / "acme" / "manifest.yaml").read_text(encoding="utf-8"))
    provider = yaml.safe_load((out / "acme" / "provider" / "acme.yaml").read_text(encoding="utf-8"))
    assert manifest["label"]["en_US"] == label
    assert provider["label"]["en_US"] == label
    assert provider["help"]["title"]["en_US"] == f"How to set up {label}"


def test_the_provider_name_defaults_to_the_label_as_a_name(config_file, out):
    done = cookiecutter_cli(config_file, out, "provider_label=Xinference (Ana B.)")
    assert done.returncode == 0, done.stderr
    manifest = yaml.safe_load((out / "xinference_ana_b" / "manifest.yaml").read_text(encoding="utf-8"))
    assert (manifest["name"], manifest["label"]["en_US"]) == ("xinference_ana_b", "Xinference (Ana B.)")


@pytest.mark.parametrize("name", ["9-lives_ai", "model"])
def test_digit_dash_keyword_and_sdk_names_give_valid_class_names(name, config_file, out):
    done = cookiecutter_cli(config_file, out, f"provider_name={name}", "model_types=llm,rerank")
    assert done.returncode == 0, done.stderr
    plugin = out / name
    classes = []
    for source in [plugin / "provider" / f"{name}.py", *sorted(plugin.glob("models/*/*.py"))]:
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        classes += [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    assert classes, "no classes generated"
    assert all(c.isidentifier() and not c[0].isdigit() for c in classes), classes
    assert "ModelProvider" not in classes, "the provider class must not shadow the SDK's ModelProvider"


def test_python_api_reports_a_refused_bake_as_exit_status_1(cookies, capsys):
    result = cookies.bake(extra_context={"provider_name": "My Provider"})
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.project_path is None
    assert capsys.readouterr().err.startswith("error: provider_name: ")
