"""The answer rules (hooks/answers.py): unit tests, and properties over hostile free text."""

import ast
import json
import keyword
import tempfile
import tomllib
import unicodedata
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_cli import config_file, cookiecutter_api  # noqa: F401  (config_file is a fixture)

from hooks import answers
from local_extensions import quoted

GOOD = {
    "provider_label": "Acme AI",
    "provider_name": "acme",
    "provider_label_zh_hans": "",
    "author": "acme-team",
    "description": "Models served by Acme's own server.",
    "version": "0.0.1",
    "help_url": "",
    "with_llm": "yes",
    "with_text_embedding": "no",
    "with_rerank": "no",
    "with_speech2text": "no",
    "with_tts": "no",
    "with_moderation": "no",
    "model_types": "",
    "configurate_method": "customizable-model",
    "implementation": "openai-compatible",
}
BASES = [t.base_class for t in answers.MODEL_TYPES]


def refused(**changes) -> answers.AnswerError:
    with pytest.raises(answers.AnswerError) as caught:
        answers.validate(GOOD | changes)
    return caught.value


def type_names(**changes) -> list[str]:
    return answers.validate(GOOD | changes).type_names


# --- slugify -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Acme AI!", "acme_ai"),
        ("  My--Provider  ", "my_provider"),
        ("4Paradigm", "4paradigm"),
        ("Xorbits Inference (Xinference)", "xorbits_inference_xinference"),
        ("!!!", ""),
        ("###", ""),
        ("阿里云", ""),
        ("a" * 127 + " b", "a" * 127),
    ],
    ids=["punctuation", "dashes-and-spaces", "digit-first", "parentheses", "bangs", "hashes", "cjk", "cut-at-128"],
)
def test_slugify_turns_free_text_into_a_provider_name(text, slug):
    assert answers.slugify(text) == slug


@given(st.text())
def test_slugify_gives_a_valid_provider_name_or_nothing(text):
    slug = answers.slugify(text)
    assert slug == "" or answers.NAME_RE.fullmatch(slug)


def test_empty_slug_hint_falls_back_to_the_label_then_to_advice():
    assert refused(provider_name="!!!").args[0].endswith("; try provider_name=acme_ai")
    error = refused(provider_name="!!!", provider_label="###")
    assert error.args[0].endswith("; use lowercase letters, digits, _ or -, e.g. provider_name=my_provider")


# --- class names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "prefix"),
    [
        ("xinference", "Xinference"),
        ("my-llm_server", "MyLlmServer"),
        ("a--b__c", "ABC"),
        ("4paradigm", "Provider4paradigm"),
        ("9-lives_ai", "Provider9LivesAi"),
        ("_", "Provider"),
        ("-", "Provider"),
        ("none", "ProviderNone"),
        ("true", "ProviderTrue"),
        ("model", "ProviderModel"),
    ],
    ids=lambda value: value,
)
def test_class_prefix_is_camel_case_and_safe(provider, prefix):
    assert answers.class_prefix(provider) == prefix


NAMES = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=128),
    st.sampled_from(["none", "true", "false", "model", "class", "-", "_", "0", "9-lives"]),
)


@given(NAMES)
def test_every_accepted_provider_name_gives_valid_class_names(provider):
    assert answers.NAME_RE.fullmatch(provider)
    plan = answers.validate(GOOD | {"provider_name": provider, "model_types": "llm,rerank,tts"})
    for name in [plan.provider_class, *(plan.class_name(t) for t in answers.MODEL_TYPES)]:
        assert name.isidentifier() and not keyword.iskeyword(name), name
        assert name not in BASES and name not in answers.RESERVED_CLASS_NAMES, name


# --- yes/no and model types ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["y", "yes", "Yes", "TRUE", "1", "on", " yes ", True], ids=repr)
def test_yes_answers_mean_yes(value):
    assert answers.parse_yes_no("with_llm", value) is True


@pytest.mark.parametrize("value", ["n", "no", "No", "FALSE", "0", "off", " no ", False], ids=repr)
def test_no_answers_mean_no(value):
    assert answers.parse_yes_no("with_llm", value) is False


@pytest.mark.parametrize("value", ["maybe", "", "2", "yess", "oui", None], ids=repr)
def test_other_yes_no_answers_are_refused_with_the_fix(value):
    with pytest.raises(answers.AnswerError) as caught:
        answers.parse_yes_no("with_tts", value)
    assert caught.value.answer == "with_tts"
    assert "must be yes or no" in str(caught.value) and "try with_tts=yes or with_tts=no" in str(caught.value)


def test_non_empty_model_types_wins_over_the_yes_no_answers():
    assert type_names(with_llm="yes", with_rerank="yes", model_types="tts") == ["tts"]


@pytest.mark.parametrize("blank", ["", "   "], ids=["empty", "spaces"])
def test_empty_model_types_leaves_the_choice_to_the_yes_no_answers(blank):
    assert type_names(model_types=blank, with_llm="no", with_rerank="yes", with_tts="y") == ["rerank", "tts"]


def test_model_types_are_put_in_dify_order_and_accept_folder_and_upper_case_spellings():
    assert type_names(model_types="rerank, LLM ,text_embedding") == ["llm", "text-embedding", "rerank"]


def test_yes_no_values_from_a_yaml_user_config_are_booleans_and_accepted():
    assert type_names(with_llm=True, with_rerank=True, with_text_embedding=False) == ["llm", "rerank"]


def test_a_bad_yes_no_answer_is_refused_even_when_model_types_wins():
    assert refused(with_llm="maybe", model_types="llm").answer == "with_llm"


@pytest.mark.parametrize(
    ("listed", "rule"),
    [
        ("llm,,tts", "no empty items"),
        ("llm,", "no empty items"),
        (",", "no empty items"),
        ("gpt", 'unknown model type "gpt"'),
        ("llm,embedding", 'unknown model type "embedding"'),
        ("llm,llm", "must not list llm twice"),
        ("text-embedding,TEXT_EMBEDDING", "must not list text-embedding twice"),
    ],
    ids=["empty-middle", "trailing-comma", "only-comma", "unknown", "unknown-second", "twice", "twice-two-spellings"],
)
def test_bad_model_type_lists_are_refused(listed, rule):
    error = refused(model_types=listed)
    assert error.answer == "model_types" and rule in str(error), str(error)


def test_choosing_no_model_type_at_all_is_refused():
    error = refused(with_llm="no")
    assert error.answer == "model_types" and "at least one model type must be chosen" in str(error)


# --- the daemon's patterns, Python spelling ------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("provider_name", "acme\n"),
        ("author", "acme\n"),
        ("version", "0.0.1\n"),
        ("version", "١.٢.٣"),
        ("version", "1.2.3-béta"),
    ],
    ids=["name-trailing-newline", "author-trailing-newline", "version-trailing-newline", "non-ascii-digits", "accent"],
)
def test_patterns_mean_what_the_daemon_means(answer, value):
    assert refused(**{answer: value}).answer == answer


@pytest.mark.parametrize("version", ["0.0.1", "1.2.3", "9999.9999.9999", "1.2.3-beta1", "1.2.3-rc2", "0.1.0-dev"])
def test_good_versions_are_accepted(version):
    answers.validate(GOOD | {"version": version})


# --- markup, unknown answers, one-line errors -----------------------------------------------


def test_markup_in_the_value_as_given_is_refused_even_if_it_rendered_clean():
    with pytest.raises(answers.AnswerError) as caught:
        answers.validate(GOOD | {"provider_label": "49"}, original={"provider_label": "{{ 7*7 }}"})
    assert caught.value.answer == "provider_label" and "Jinja markup" in str(caught.value)


def test_the_templates_own_jinja_defaults_are_not_mistaken_for_answers():
    derived = "{{ cookiecutter.provider_label | slugify }}"
    plan = answers.validate(GOOD, original={"provider_name": derived}, defaults={"provider_name": derived})
    assert plan.provider == "acme"


def test_a_carriage_return_as_given_is_refused_before_rendering_turns_it_into_a_newline():
    with pytest.raises(answers.AnswerError) as caught:
        answers.check_given_value("description", "one\r\ntwo")
    assert "U+000D" in str(caught.value)


def test_unknown_answer_gets_the_closest_known_name():
    with pytest.raises(answers.AnswerError) as caught:
        answers.check_given_names({"providr_name": "acme"}, list(GOOD))
    assert str(caught.value).startswith("providr_name: is not an answer of this template")
    assert str(caught.value).endswith("did you mean provider_name?")


def test_private_variables_cannot_be_given():
    with pytest.raises(answers.AnswerError) as caught:
        answers.check_given_names({"__checked": "ok"}, [*GOOD, "__checked"])
    assert "is set by the template" in str(caught.value)


@given(answer=st.text(min_size=1), value=st.one_of(st.text(), st.integers(), st.none(), st.booleans()))
def test_an_answer_error_is_always_exactly_one_line(answer, value):
    line = str(answers.AnswerError(answer, "must be good", value, "fix it"))
    assert len(line.splitlines()) == 1, line


def test_the_templates_defaults_pass_every_rule():
    defaults = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    given = {k: v for k, v in defaults.items() if not k.startswith("_")}
    # These defaults are Jinja on purpose; cookiecutter renders them before any rule runs.
    given["created_at"] = "2026-01-31T12:00:00Z"
    given["description"] = given["description"].replace("{{ cookiecutter.provider_label }}", given["provider_label"])
    plan = answers.validate(given)
    assert plan.provider == "xinference" and plan.type_names == ["llm", "text-embedding", "rerank"]


def test_answers_module_parses_as_python_3_9():
    source = (TEMPLATE / "hooks" / "answers.py").read_text(encoding="utf-8")
    ast.parse(source, feature_version=(3, 9))


# --- hostile free text ---------------------------------------------------------------------

MARKUP = ("{{", "}}", "{%", "%}", "{#", "#}")
PIECES = [
    '"',
    "'",
    "\\",
    "\\n",
    "#",
    ": ",
    "- ",
    "-",
    "{",
    "}",
    "%",
    "&",
    "*",
    "!",
    "|",
    ">",
    "[",
    "]",
    ",",
    "?",
    "@",
    "`",
    " ",
    "Acme",
    "null",
    "yes",
    "~",
    "1e3",
    "阿里云",
    "模型服务",
    "🚀",
    "👩‍💻",
    "\u200b",
]
# Mostly text a user could mean (quotes, backslashes, YAML indicators, CJK, emoji), some of it
# hostile (control characters, separators, markup), so that both outcomes are exercised.
PRINTABLE = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters="\ufeff\ufffe\uffff")
MEANT = st.lists(st.one_of(st.sampled_from(PIECES), st.text(PRINTABLE, max_size=3)), min_size=1, max_size=8)
HOSTILE = st.lists(st.one_of(st.sampled_from([*PIECES, "{{", "{%", "\x7f", "\u2028"]), st.text(max_size=3)), max_size=8)
LABELS = st.one_of(MEANT, MEANT, MEANT, HOSTILE).map("".join)
DESCRIPTIONS = st.one_of(
    MEANT,
    MEANT,
    st.lists(st.one_of(st.sampled_from([*PIECES, "\n", "\t", "\n\n", "- item\n"]), st.text(PRINTABLE, max_size=3))),
    st.lists(st.sampled_from(["\r", "\r\n", "\x00", "{#", "%}"]), min_size=1, max_size=2),
).map("".join)


def refusal_expected(value: str, *, multi_line: bool) -> bool:
    """The policy, written independently of hooks/answers.py: what a label or description may not be."""
    allowed = "\n\t" if multi_line else ""
    unsafe = any(
        (unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") and ch not in allowed) or ch in "\ufeff\ufffe\uffff"
        for ch in value
    )
    return not value.strip() or len(value) > answers.I18N_MAX or unsafe or any(m in value for m in MARKUP)


@settings(max_examples=300, deadline=None, database=None)
@given(LABELS)
def test_every_accepted_label_round_trips_through_yaml_toml_and_json(label):
    try:
        answers.validate(GOOD | {"provider_label": label, "description": label})
    except answers.AnswerError:
        assert refusal_expected(label, multi_line=False)
        return
    assert not refusal_expected(label, multi_line=False)
    assert yaml.safe_load(f"label:\n  en_US: {quoted(label)}\n") == {"label": {"en_US": label}}
    assert tomllib.loads(f"label = {quoted(label)}") == {"label": label}
    assert json.loads(quoted(label)) == label


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(label=LABELS, description=DESCRIPTIONS)
def test_baked_label_and_description_read_back_exactly_or_are_refused_in_one_line(label, description, config_file):  # noqa: F811
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        done = cookiecutter_api(
            config_file, out, {"provider_label": label, "description": description, "provider_name": "acme"}
        )
        bad = [
            name
            for name, value, multi_line in (("provider_label", label, False), ("description", description, True))
            if refusal_expected(value, multi_line=multi_line)
        ]
        event("refused" if bad else "baked")
        if bad:
            assert done.returncode == 1, (label, description)
            assert done.stdout == ""
            assert len(done.stderr.splitlines()) == 1, done.stderr
            assert done.stderr.startswith(tuple(f"error: {name}: " for name in bad)), done.stderr
            assert list(out.iterdir()) == []
            return
        assert done.returncode == 0, done.stderr
        manifest = yaml.safe_load((out / "acme" / "manifest.yaml").read_text(encoding="utf-8"))
        provider = yaml.safe_load((out / "acme" / "provider" / "acme.yaml").read_text(encoding="utf-8"))
    for document in (manifest, provider):
        assert document["label"]["en_US"] == label
        assert document["description"]["en_US"] == description
    assert provider["help"]["title"]["en_US"] == f"How to set up {label}"
