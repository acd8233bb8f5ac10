"""Bad input through the real `cookiecutter` command: one line, a non-zero exit, nothing left behind."""

import ast
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE
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


def the_one_line(done: subprocess.CompletedProcess) -> str:
    """The single line a refused bake prints: on stderr, with nothing else on either stream."""
    assert done.returncode != 0, done.stdout + done.stderr
    assert done.stdout == "", done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), done.stderr
    return lines[0]


def bad(id: str, answer: str, rule: str, **given: str):
    """One bad answer set: the answers given, and the answer and rule the error must name."""
    return pytest.param(given, answer, rule, id=id)


NAME_RULE = "must match ^[a-z0-9_-]{1,128}$"
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
    bad("label-empty", "provider_label", EMPTY_RULE, provider_label=""),
    bad("label-blank", "provider_label", EMPTY_RULE, provider_label="   "),
    bad("label-with-tab", "provider_label", SINGLE_LINE_RULE, provider_label="Acme\tAI"),
    bad("label-with-newline", "provider_label", SINGLE_LINE_RULE, provider_label="Acme\nAI"),
    bad("label-too-long", "provider_label", TOO_LONG_RULE, provider_label="x" * 1024),
    bad("label-with-del", "provider_label", CONTROL_RULE, provider_label="Acme\x7f"),
    bad("label-with-line-separator", "provider_label", CONTROL_RULE, provider_label="Acme\u2028AI"),
    bad("label-jinja-expression", "provider_label", MARKUP_RULE, provider_label="{{ 7*7 }}"),
    bad("label-jinja-syntax-error", "provider_label", MARKUP_RULE, provider_label="{{"),
    bad("label-jinja-undefined-name", "provider_label", MARKUP_RULE, provider_label="{{ nope }}"),
    bad("label-jinja-block", "provider_label", MARKUP_RULE, provider_label="{% raw %}x"),
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
    bad("url-unbalanced-bracket", "help_url", URL_RULE, help_url="http://[bad"),
    bad("url-without-host", "help_url", URL_RULE, help_url="https:///docs"),
    bad("yes-no-maybe", "with_llm", YES_NO_RULE, with_llm="maybe"),
    bad("yes-no-number", "with_tts", YES_NO_RULE, with_tts="2"),
    bad("yes-no-bad-even-when-list-wins", "with_llm", YES_NO_RULE, with_llm="maybe", model_types="llm"),
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
    bad("model-types-duplicate", "model_types", "must not list llm twice", model_types="llm,LLM"),
    bad("model-types-duplicate-spelling", "model_types", "twice", model_types="text_embedding,text-embedding"),
    bad("method-unknown", "configurate_method", CHOICE_RULE, configurate_method="custom"),
    bad("method-empty", "configurate_method", CHOICE_RULE, configurate_method=""),
    bad("implementation-unknown", "implementation", CHOICE_RULE, implementation="openai"),
    bad("unknown-answer-typo", "provider_nam", UNKNOWN_RULE, provider_nam="acme"),
    bad("unknown-answer", "modeltypes", UNKNOWN_RULE, modeltypes="llm"),
    bad("private-check-variable", "__checked", PRIVATE_RULE, __checked="ok"),
    bad("private-checked", "__checked", PRIVATE_RULE, __checked="x\nauthor: evil"),
    bad("created-at-not-rfc3339", "created_at", "must be an RFC 3339 time", created_at="yesterday"),
]
# One of each kind goes through the real CLI in a subprocess (~0.2 s each); all of them go
# through cookiecutter's Python API in-process, which takes the same path up to the CLI.
THROUGH_THE_CLI = {
    "name-with-space-and-capitals",
    "name-and-label-with-empty-slug",
    "name-trailing-newline",
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
}
CLI_ANSWERS = [case for case in BAD_ANSWERS if case.id in THROUGH_THE_CLI]


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


def assert_refused(done: subprocess.CompletedProcess, out: Path, given: dict, answer: str, rule: str) -> None:
    line = the_one_line(done)
    assert line.startswith(f"error: {answer}: "), line
    assert rule in line, line
    value = given.get(answer, "")
    if value.isprintable() and len(value) <= 80:
        assert f"(got {json.dumps(value, ensure_ascii=False)})" in line, line
    assert "); " in line, f"no hint on how to fix it: {line}"
    assert list(out.iterdir()) == [], "a refused bake left files behind"


def test_there_are_at_least_forty_bad_answer_sets():
    assert len(BAD_ANSWERS) >= 40, len(BAD_ANSWERS)
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
    assert done.returncode == 1
    assert list(out.iterdir()) == []


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


def test_jinja_markup_in_a_label_is_refused_not_evaluated(config_file, out):
    done = cookiecutter_cli(config_file, out, "provider_label={{ 7*7 }}")
    line = the_one_line(done)
    assert line.startswith("error: provider_label: must not contain Jinja markup"), line
    assert '(got "{{ 7*7 }}")' in line and "49" not in line
    assert list(out.iterdir()) == []


def test_existing_plugin_folder_gets_one_line_and_is_left_alone(config_file, out):
    assert cookiecutter_cli(config_file, out).returncode == 0
    manifest = out / "xinference" / "manifest.yaml"
    before = manifest.read_bytes()
    manifest.touch()
    stamp = manifest.stat().st_mtime_ns

    line = the_one_line(cookiecutter_cli(config_file, out))
    assert line.startswith("error: provider_name: must not name a folder that already exists"), line
    assert json.dumps(str(out / "xinference")) in line
    assert "--overwrite-if-exists" in line and "--output-dir" in line
    assert manifest.read_bytes() == before and manifest.stat().st_mtime_ns == stamp


def test_existing_plugin_folder_is_replaced_with_overwrite_if_exists(config_file, out):
    (out / "xinference").mkdir()
    done = cookiecutter_cli(config_file, out, "--overwrite-if-exists")
    assert done.returncode == 0, done.stderr
    assert (out / "xinference" / "manifest.yaml").is_file()


def test_leftover_of_an_interrupted_bake_is_named_with_the_way_out(config_file, out):
    partial = out / "xinference" / "models"
    partial.mkdir(parents=True)
    line = the_one_line(cookiecutter_cli(config_file, out))
    assert "interrupted bake" in line and json.dumps(str(out / "xinference")) in line, line
    assert partial.is_dir(), "the leftover is the user's to remove"


def test_ctrl_c_at_a_prompt_aborts_with_one_word_and_creates_nothing(config_file, out):
    command = [sys.executable, "-m", "cookiecutter", str(TEMPLATE), "--output-dir", str(out)]
    command += ["--config-file", str(config_file)]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=0
    )
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


def interactive_answers(**chosen: str) -> str:
    """Lines for the 16 prompts, in cookiecutter.json order; an empty line keeps the default."""
    order = [key for key in json.loads((TEMPLATE / "cookiecutter.json").read_text()) if not key.startswith("_")]
    return "".join(f"{chosen.get(key, '')}\n" for key in order)


def test_answers_typed_at_the_prompts_bake_the_plugin(config_file, out):
    stdin = interactive_answers(provider_label="Acme AI", provider_name="acme", model_types="llm,tts")
    done = cookiecutter_cli(config_file, out, stdin=stdin, no_input=False)
    assert done.returncode == 0, done.stdout + done.stderr
    provider = yaml.safe_load((out / "acme" / "provider" / "acme.yaml").read_text(encoding="utf-8"))
    assert provider["label"]["en_US"] == "Acme AI"
    assert provider["supported_model_types"] == ["llm", "tts"]


def test_bad_answer_typed_at_a_prompt_is_one_line_on_stderr(config_file, out):
    stdin = interactive_answers(provider_label="Acme {{ 7*7 }}", provider_name="acme")
    done = cookiecutter_cli(config_file, out, stdin=stdin, no_input=False)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        'error: provider_label: must not contain Jinja markup ({{ }}, {% %} or {# #}) (got "Acme {{ 7*7 }}"); '
        "answers are used as plain text; remove the braces"
    ]
    assert list(out.iterdir()) == []


def test_tampered_replay_file_is_still_refused_by_the_pre_generation_hook(config_file, out, tmp_path):
    replay = tmp_path / "replay.json"
    assert cookiecutter_cli(config_file, tmp_path / "first").returncode == 0
    recorded = json.loads((config_file.parent / "replay" / f"{TEMPLATE.name}.json").read_text(encoding="utf-8"))
    recorded["cookiecutter"]["version"] = "1.0"
    replay.write_text(json.dumps(recorded), encoding="utf-8")

    command = [sys.executable, "-m", "cookiecutter", str(TEMPLATE), "--output-dir", str(out)]
    done = subprocess.run(
        command + ["--config-file", str(config_file), "--replay-file", str(replay)],
        capture_output=True,
        text=True,
        timeout=ONE_LINE_TIMEOUT,
    )
    assert done.returncode != 0
    assert "error: version: must look like 1.2.3 or 1.2.3-beta1" in done.stderr
    assert list(out.iterdir()) == []


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
