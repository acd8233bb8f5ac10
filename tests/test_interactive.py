"""The real questions in a real terminal (a pseudo-terminal driven by pexpect), as an attendee answers them.

A bad answer is refused the moment it is given and the same question comes again: free text by
the template's own check, yes/no and menus by cookiecutter's own prompts. Checked with the
cookiecutter of the suite and with the oldest releases that ask in other ways (2.1 asks by answer
name with click, 2.2 with click and question texts; 2.3 on use rich).
"""

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pexpect
import pytest
import yaml
from conftest import TEMPLATE, run_plugin_tests

TIMEOUT = 60
OLDER_RELEASES = ("2.1.1", "2.2.3")


@pytest.fixture(scope="session")
def cookiecutter_releases(tmp_path_factory) -> dict[str, str]:
    """release -> the `cookiecutter` command of that release (the suite's own, and older ones in fresh venvs)."""
    commands = {"suite": str(Path(sys.executable).parent / "cookiecutter")}
    root = tmp_path_factory.mktemp("cookiecutter-releases")
    for release in OLDER_RELEASES:
        home = root / release
        venv.create(home, with_pip=True)
        subprocess.run(
            [home / "bin" / "python", "-m", "pip", "install", "-q", f"cookiecutter=={release}"],
            check=True,
            capture_output=True,
            timeout=600,
        )
        commands[release] = str(home / "bin" / "cookiecutter")
    return commands


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump({"cookiecutters_dir": str(tmp_path / "cc"), "replay_dir": str(tmp_path / "replay")}),
        encoding="utf-8",
    )
    return path


class Terminal:
    """cookiecutter in a pseudo-terminal: wait for a question, type an answer."""

    def __init__(self, command: str, out: Path, config_file: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COOKIECUTTER")} | {"NO_COLOR": "1"}
        self.child = pexpect.spawn(
            command,
            [str(TEMPLATE), "--output-dir", str(out), "--config-file", str(config_file), *args],
            env=env,
            encoding="utf-8",
            timeout=TIMEOUT,
            dimensions=(50, 250),
        )
        self.transcript: list[str] = []

    def answer(self, question: str, typed: str, then: str | None = None) -> str:
        """Wait for `question`, type `typed`; if `then` is given, wait for that complaint and return it."""
        self.child.expect(question)
        self.transcript.append(self.child.before + self.child.after)
        self.child.sendline(typed)
        if then is None:
            return ""
        self.child.expect(then)
        self.transcript.append(self.child.before + self.child.after)
        return self.child.after

    def finish(self) -> int:
        self.child.expect(pexpect.EOF)
        self.transcript.append(self.child.before)
        self.child.close()
        return self.child.exitstatus


# Each question as the releases word it: __prompts__ texts (2.2 on) or the answer's name (2.1).
Q = {
    "provider_label": r"Display name in Dify|provider_label \[",
    "provider_name": r"Plugin id and folder name|provider_name \[",
    "author": r"Author: your GitHub handle|author \[",
    "description": r"One-line description|description \[",
    "help_url": r"Help link shown|help_url \[",
    "with_llm": r"Include an LLM|with_llm \[",
    "with_text_embedding": r"Include a text-embedding|with_text_embedding \[",
    "with_rerank": r"Include a rerank|with_rerank \[",
    "with_speech2text": r"Include a speech-to-text|with_speech2text \[",
    "with_tts": r"Include a text-to-speech|with_tts \[",
    "with_moderation": r"Include a moderation|with_moderation \[",
    "configurate_method": r"How do models get into Dify\?|Select configurate_method:",
    "implementation": r"Model code|Select implementation:",
}
CHOOSE = r"Choose from"
# What cookiecutter's own prompts say to an answer they cannot take (click in 2.1/2.2, rich from 2.3).
NOT_YES_NO = r"Please enter Y or N|is not a valid boolean"
NOT_ON_THE_MENU = r"Please select one of the available options|is not one of"
OURS = r"error: [a-z_]+: [^\r\n]*\r\n"


def the_attendees_session(terminal: Terminal) -> list[str]:
    """The answers of the workshop attendee who makes every kind of mistake once; returns our complaints."""
    complaints = [
        terminal.answer(Q["provider_label"], "Acme AI (Ana)"),
        terminal.answer(Q["provider_name"], "My Plugin", then=OURS),
        terminal.answer(Q["provider_name"], ""),
        terminal.answer(Q["author"], "Ana B", then=OURS),
        terminal.answer(Q["author"], "ana-b"),
        terminal.answer(Q["description"], ""),
        terminal.answer(Q["help_url"], "docs.acme.example", then=OURS),
        terminal.answer(Q["help_url"], "https://docs.acme.example/setup"),
        terminal.answer(Q["with_llm"], "maybe", then=NOT_YES_NO),
        terminal.answer(Q["with_llm"], "y"),
        terminal.answer(Q["with_text_embedding"], "n"),
        terminal.answer(Q["with_rerank"], ""),
        terminal.answer(Q["with_speech2text"], ""),
        terminal.answer(Q["with_tts"], "yes"),
        terminal.answer(Q["with_moderation"], ""),
        terminal.answer(CHOOSE, "7", then=NOT_ON_THE_MENU),
        terminal.answer(CHOOSE, "3"),
        terminal.answer(CHOOSE, ""),
    ]
    return [line.strip() for line in complaints if line.startswith("error:")]


COMPLAINTS = [
    'error: provider_name: must match ^[a-z0-9_-]{1,128}$ (got "My Plugin"); try provider_name=my_plugin',
    'error: author: must match ^[a-z0-9_-]{1,64}$ (got "Ana B"); try author=ana-b',
    'error: help_url: must be an http(s) URL with a host (got "docs.acme.example"); '
    "try help_url=https://docs.acme.example",
]


def assert_the_attendees_plugin(plugin: Path) -> None:
    manifest = yaml.safe_load((plugin / "manifest.yaml").read_text(encoding="utf-8"))
    provider = yaml.safe_load((plugin / "provider" / "acme_ai_ana.yaml").read_text(encoding="utf-8"))
    assert (manifest["name"], manifest["author"], manifest["label"]["en_US"]) == (
        "acme_ai_ana",
        "ana-b",
        "Acme AI (Ana)",
    )
    assert manifest["description"]["en_US"] == "Models served by your own Acme AI (Ana) server."
    assert provider["help"]["url"]["en_US"] == "https://docs.acme.example/setup"
    assert provider["supported_model_types"] == ["llm", "rerank", "tts"]
    assert provider["configurate_methods"] == ["predefined-model", "customizable-model"]
    recorded = json.loads((plugin / ".cookiecutter.json").read_text(encoding="utf-8"))
    assert {k: recorded[k] for k in ("with_llm", "with_text_embedding", "with_tts")} == {
        "with_llm": "yes",
        "with_text_embedding": "no",
        "with_tts": "yes",
    }


def test_bad_answers_are_asked_again_and_the_corrected_plugin_passes_its_own_tests(tmp_path, config_file):
    out = tmp_path / "out"
    terminal = Terminal(str(Path(sys.executable).parent / "cookiecutter"), out, config_file)
    assert the_attendees_session(terminal) == COMPLAINTS
    assert terminal.finish() == 0, "".join(terminal.transcript)
    session = re.sub(r"\x1b\[[0-9;]*m", "", "".join(terminal.transcript))  # without rich's styles
    # The same question again, with the same number, after each mistake: nothing asked twice otherwise.
    assert len(re.findall(r"\[2/13\] Plugin id", session)) == 2
    assert len(re.findall(r"\[6/13\] Include an LLM", session)) == 2
    assert len(re.findall(r"\[12/13\] How do models", session)) == 2
    assert "[13/13] Model code" in session and "[14/" not in session
    for not_asked in ("created_at", "model_types", "version", "Chinese"):
        assert not_asked not in session
    plugin = out / "acme_ai_ana"
    assert_the_attendees_plugin(plugin)
    done = run_plugin_tests(plugin)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert re.search(r"\d+ passed", done.stdout.splitlines()[-1]), done.stdout[-500:]


@pytest.mark.parametrize("release", OLDER_RELEASES)
def test_older_cookiecutter_releases_ask_again_the_same_way(release, cookiecutter_releases, tmp_path, config_file):
    out = tmp_path / "out"
    terminal = Terminal(cookiecutter_releases[release], out, config_file)
    assert the_attendees_session(terminal) == COMPLAINTS
    assert terminal.finish() == 0, "".join(terminal.transcript)
    assert_the_attendees_plugin(out / "acme_ai_ana")


def test_answering_no_to_every_model_type_asks_the_last_one_again(tmp_path, config_file):
    terminal = Terminal(str(Path(sys.executable).parent / "cookiecutter"), tmp_path / "out", config_file)
    for key in ("provider_label", "provider_name", "author", "description", "help_url"):
        terminal.answer(Q[key], "")
    for key in ("with_llm", "with_text_embedding", "with_rerank", "with_speech2text", "with_tts"):
        terminal.answer(Q[key], "n")
    complaint = terminal.answer(Q["with_moderation"], "n", then=OURS)
    assert complaint.startswith("error: model_types: at least one model type must be chosen")
    terminal.answer(Q["with_moderation"], "y")
    terminal.answer(CHOOSE, "")
    terminal.answer(CHOOSE, "")
    assert terminal.finish() == 0
    provider = yaml.safe_load((tmp_path / "out" / "xinference" / "provider" / "xinference.yaml").read_text())
    assert provider["supported_model_types"] == ["moderation"]


def test_an_existing_plugin_folder_is_refused_at_the_provider_name_and_asked_again(tmp_path, config_file):
    out = tmp_path / "out"
    (out / "xinference").mkdir(parents=True)
    terminal = Terminal(str(Path(sys.executable).parent / "cookiecutter"), out, config_file)
    terminal.answer(Q["provider_label"], "")
    complaint = terminal.answer(Q["provider_name"], "", then=OURS)
    assert "must not name a folder that already exists" in complaint
    assert "--overwrite-if-exists would overwrite your edits" in complaint
    terminal.answer(Q["provider_name"], "xinference_two")
    for _ in range(11):  # author .. implementation: the defaults
        terminal.answer(r"\[\d+/13\]", "")
    assert terminal.finish() == 0
    assert (out / "xinference_two" / "manifest.yaml").is_file()
    assert list((out / "xinference").iterdir()) == []
