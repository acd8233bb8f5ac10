"""The answer rules (hooks/answers.py): unit tests, and properties over hostile free text."""

import ast
import datetime
import json
import keyword
import re
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

from cookiecutter_dify_model_plugin import as_provider_name, quoted
from hooks import answers

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


@given(NAMES.filter(lambda name: name[0].isalnum() and name[-1].isalnum()))
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


def test_a_list_of_model_types_from_a_config_file_is_the_same_as_the_comma_form():
    assert type_names(model_types=["tts", "LLM"]) == type_names(model_types="tts,llm") == ["llm", "tts"]
    assert "twice" in str(refused(model_types=["llm", "llm"]))


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


# --- contact: the Marketplace's email -----------------------------------------------------------


@pytest.mark.parametrize(
    "contact", ["ana@acme.example", "a.b+dify@mail.acme.example", "o'brien@acme.example", "x@a-b.io", ""]
)
def test_good_contacts_are_accepted(contact):
    answers.validate(GOOD | {"contact": contact})


@pytest.mark.parametrize(
    ("contact", "hint"),
    [
        ("Ana <ana@acme.example>", "give the address alone: contact=ana@acme.example"),
        ("mailto:ana@acme.example", "give the address alone: contact=ana@acme.example"),
        ("ana@localhost", "e.g. contact=you@example.com, or empty"),
        ("ana.acme.example", "e.g. contact=you@example.com, or empty"),
        ("ana..x@acme.example", "e.g. contact=you@example.com, or empty"),
        ("ana@-acme.example", "e.g. contact=you@example.com, or empty"),
        ("ana @acme.example", "e.g. contact=you@example.com, or empty"),
    ],
)
def test_a_contact_that_is_no_email_address_gets_one_line_with_the_fix(contact, hint):
    error = refused(contact=contact)
    assert error.answer == "contact"
    assert str(error).startswith("contact: must be an email address like you@example.com (got ")
    assert str(error).endswith(f"; {hint}")


def test_a_contact_may_have_254_characters_and_64_before_the_at_sign():
    """RFC 5321, section 4.5.3.1: a local part of 64 octets, a path of 256 with its angle brackets."""
    domain = "@" + ".".join(["d" * 61] * 3) + ".example"  # 1 + 3 * 62 - 1 + 8 = 194 characters
    longest = "l" * 60 + domain
    assert len(longest) == 254
    answers.validate(GOOD | {"contact": longest})
    assert "at most 254 characters" in str(refused(contact="l" + longest))
    answers.validate(GOOD | {"contact": "l" * 64 + "@acme.example"})
    assert "64 before the @" in str(refused(contact="l" * 65 + "@acme.example"))


def test_a_bake_for_the_marketplace_needs_a_contact_and_only_that_one():
    url = "https://github.com/acme/acme-dify-plugin"
    error = refused(repository_url=url)
    assert error.answer == "contact" and "must be given with repository_url" in str(error)
    answers.validate(GOOD | {"repository_url": url, "contact": "ana@acme.example"})
    answers.validate(GOOD | {"contact": "ana@acme.example"})  # a contact alone is fine: README and PRIVACY.md
    found = answers.problems(GOOD | {"repository_url": "acme/x"})
    assert [error.answer for error in found] == ["repository_url"]  # one mistake, one line


# --- markup, unknown answers, one-line errors -----------------------------------------------


def test_markup_and_carriage_returns_in_a_given_value_are_refused():
    assert "Jinja markup" in str(refused(provider_label="Acme {{ 7*7 }}"))
    with pytest.raises(answers.AnswerError) as caught:
        answers.check_given_value("description", "one\r\ntwo")
    assert "U+000D" in str(caught.value)


def test_unknown_answer_gets_the_closest_known_name():
    (error,) = answers.unknown_names({"providr_name": "acme"}, list(GOOD))
    assert str(error).startswith("providr_name: is not an answer of this template")
    assert str(error).endswith("did you mean provider_name?")


def test_private_variables_cannot_be_given_but_cookiecutters_own_records_may_come_back():
    known = [*GOOD, "__checked", "_extensions"]
    (error,) = answers.unknown_names({"__checked": "ok", "_template": "gh:x/y", "_commit": "abc"}, known)
    assert "is set by the template" in str(error)


def test_a_config_file_may_hold_answers_of_other_templates_but_not_typos_of_ours():
    shared = {"full_name": "Ana", "email": "a@example.com", "project_name": "x", "modle_types": "llm"}
    errors = answers.unknown_names(shared, list(GOOD), typos_only=True)
    assert [error.answer for error in errors] == ["modle_types"]


def test_with_answers_changed_next_to_model_types_must_agree_with_the_list():
    defaults = {t.answer: "no" for t in answers.MODEL_TYPES} | {"with_llm": "yes"}
    assert answers.conflicts({"model_types": "llm,tts", "with_tts": "yes", "with_llm": True}, defaults) == []
    (error,) = answers.conflicts({"model_types": ["llm"], "with_rerank": "y"}, defaults)
    assert str(error).startswith('with_rerank: contradicts model_types (got "y")')
    # A plugin's record holds the list next to the with_* defaults: that is no contradiction.
    assert answers.conflicts({"model_types": "tts", **defaults}, defaults) == []


def test_every_bad_answer_is_listed_once_in_question_order():
    found = answers.problems(GOOD | {"version": "1.0", "author": "A B", "provider_name": "X", "with_tts": "?"})
    assert [error.answer for error in found] == ["provider_name", "author", "with_tts", "version"]


def test_a_value_made_from_a_bad_label_does_not_repeat_its_error():
    label = "x" * 1024
    found = answers.problems(GOOD | {"provider_label": label, "description": f"Models on {label}."})
    assert [error.answer for error in found] == ["provider_label"]


def test_at_the_prompt_the_last_type_question_checks_that_one_type_was_chosen():
    so_far = {"model_types": "", **{t.answer: "no" for t in answers.MODEL_TYPES[:-1]}}
    answers.check_answer("with_tts", "no", so_far)  # not the last one: no verdict yet
    with pytest.raises(answers.AnswerError) as caught:
        answers.check_answer("with_moderation", "no", so_far)
    assert "at least one model type must be chosen" in str(caught.value)
    answers.check_answer("with_moderation", "yes", so_far)


@pytest.mark.parametrize(
    ("answer", "value", "hint"),
    [
        ("version", "1.0", "try version=1.0.0"),
        ("version", "v2", "try version=2.0.0"),
        ("version", "1.2.3-foo", "the suffix must be a pre- or post-release tag, e.g. version=1.2.3-beta1"),
        ("version", "latest", "try version=0.0.1"),
        ("help_url", "docs.acme.example/setup", "try help_url=https://docs.acme.example/setup"),
        ("help_url", "see the docs", "e.g. help_url=https://example.com/docs, or empty"),
        ("configurate_method", "predefined", "did you mean configurate_method=predefined-model?"),
        ("configurate_method", "custom", "did you mean configurate_method=customizable-model?"),
        ("configurate_method", "xyz", "try configurate_method=customizable-model"),
        ("implementation", "stubs", "try implementation=openai-compatible"),
        ("model_types", "llm,embeddings", "did you mean text-embedding?"),
        ("author", "Ana Müller", "try author=ana-m-ller"),
        ("author", True, "YAML read it as a boolean: put the value in quotes"),
        ("provider_name", "-acme-", "try provider_name=acme"),
    ],
)
def test_hints_fit_the_value_given(answer, value, hint):
    assert str(refused(**{answer: value})).endswith(f"; {hint}")


@given(answer=st.text(min_size=1), value=st.one_of(st.text(), st.integers(), st.none(), st.booleans()))
def test_an_answer_error_is_always_exactly_one_line(answer, value):
    line = str(answers.AnswerError(answer, "must be good", value, "fix it"))
    assert len(line.splitlines()) == 1, line


def test_the_templates_defaults_pass_every_rule():
    defaults = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    given = {k: v for k, v in defaults.items() if not k.startswith("_")}
    # These defaults are Jinja on purpose; cookiecutter renders them before any rule runs.
    label = given["provider_label"]
    given["created_at"] = "2026-01-31T12:00:00Z"
    given["description"] = given["description"].replace("{{ cookiecutter.provider_label }}", label)
    assert given["provider_name"] == "{{ cookiecutter.provider_label | as_provider_name }}"
    given["provider_name"] = as_provider_name(label)
    plan = answers.validate(given)
    assert plan.provider == "xinference" and plan.type_names == ["llm", "text-embedding", "rerank"]


def test_every_question_has_a_rule_and_every_rule_a_question():
    defaults = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    assert sorted(key for key in defaults if not key.startswith("_")) == sorted(answers.QUESTIONS)
    for key, question in answers.QUESTIONS.items():
        if question.form == answers.CHOICE:
            assert defaults[key] == question.choices[0], f"{key}: the default is the menu's first entry"
        if question.form == answers.YES_NO:
            assert defaults[key] in ("yes", "no"), key


# --- what YAML readers make of accepted answers ------------------------------------------------


@settings(max_examples=400, deadline=None, database=None)
@given(NAMES)
def test_every_accepted_name_or_author_reads_back_from_the_quoted_yaml_exactly(name):
    try:
        answers.check_provider_name(name, {})
    except answers.AnswerError:
        assert not (name[0].isalnum() and name[-1].isalnum())
        return
    assert yaml.safe_load(f"name: {quoted(name)}\nauthor: {quoted(name[:64])}\n") == {
        "name": name,
        "author": name[:64],
    }


TIMES = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{}".format,
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from(["", ".5", ".123456", ".123456789"]),
    st.one_of(
        st.just("Z"),
        st.builds("{}{:02d}:{:02d}".format, st.sampled_from("+-"), st.integers(0, 99), st.integers(0, 99)),
    ),
)


@settings(max_examples=500, deadline=None, database=None)
@given(TIMES)
def test_every_accepted_created_at_is_read_by_yaml_as_that_very_time(created_at):
    """PyYAML (the SDK's reader) turns the unquoted manifest value into a datetime, or the plugin fails to start."""
    try:
        loaded = yaml.safe_load(f"created_at: {created_at}")["created_at"]
        readable = isinstance(loaded, datetime.datetime)
    except ValueError:
        readable = False
    try:
        answers.check_created_at(created_at, {})
    except answers.AnswerError:
        event("refused" + (" (YAML reads it; outside RFC 3339)" if readable else ""))
        return
    event("accepted")
    assert readable, created_at
    # PyYAML keeps microseconds; Python's own RFC 3339 reader must agree on the instant.
    expected = datetime.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", created_at))
    assert loaded == expected


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
            named = [line.split(":")[1].strip() for line in done.stderr.splitlines()]
            assert named == bad, done.stderr  # one line per bad answer, in question order
            assert list(out.iterdir()) == []
            return
        assert done.returncode == 0, done.stderr
        manifest = yaml.safe_load((out / "acme" / "manifest.yaml").read_text(encoding="utf-8"))
        provider = yaml.safe_load((out / "acme" / "provider" / "acme.yaml").read_text(encoding="utf-8"))
    for document in (manifest, provider):
        assert document["label"]["en_US"] == label
        assert document["description"]["en_US"] == description
    assert provider["help"]["title"]["en_US"] == f"How to set up {label}"


def test_the_placeholder_notice_knows_the_template_defaults():
    context = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    assert (answers.PLACEHOLDER_AUTHOR, answers.XINFERENCE_HELP_URL) == (context["author"], context["help_url"])
    assert answers.placeholder_notice(context | {"provider_label": "Xinference", "author": "ana"}) == ""


def test_every_answer_name_is_written_out_where_the_rules_use_it():
    """`grep with_rerank` finds the rule: no answer name is assembled from parts."""
    source = (TEMPLATE / "hooks" / "answers.py").read_text(encoding="utf-8")
    context = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
    missing = [key for key in context if not key.startswith("_") and f'"{key}"' not in source]
    assert missing == []
    assert not re.search(r"""f["']with_""", source)


# --- import_models_from ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["", "http://127.0.0.1:9997", "https://models.example.com/api/v1"])
def test_import_models_from_takes_an_http_url_or_nothing(url):
    answers.validate(GOOD | {"import_models_from": url})


@pytest.mark.parametrize(
    "url, rule",
    [
        ("192.168.1.10:9997", "must be an http(s) URL with a host"),
        ("ftp://host/v1", "must be an http(s) URL with a host"),
        ("http://ana:s3cret@host:9997", "must not contain a user or password"),
    ],
)
def test_import_models_from_refuses_other_text_and_any_password(url, rule):
    [error] = answers.problems(GOOD | {"import_models_from": url})
    assert error.answer == "import_models_from" and error.rule.startswith(rule)
    assert "s3cret" not in str(error)  # the URL is recorded in the plugin; the key comes from the environment


def test_import_models_from_needs_the_working_code():
    [error] = answers.problems(GOOD | {"import_models_from": "http://host:9997", "implementation": "blank"})
    assert error.answer == "import_models_from" and "implementation=openai-compatible" in error.rule


@pytest.mark.parametrize("method", ["customizable-model", "predefined-model", "both"])
def test_importing_models_makes_them_predefined_and_drops_the_examples(method):
    plan = answers.validate(GOOD | {"import_models_from": "http://host:9997", "configurate_method": method})
    assert plan.predefined and plan.imports
    assert plan.customizable == (method != "predefined-model")
    assert "models/llm/example-llm.yaml" in answers.paths_to_remove(plan)
    assert "scripts/refresh_models.py" not in answers.paths_to_remove(plan)


def test_a_plugin_without_predefined_models_has_no_refresh_script():
    assert "scripts/refresh_models.py" in answers.paths_to_remove(answers.validate(GOOD))
