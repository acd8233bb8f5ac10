"""docs/features.md stays true: every row says how it is proven, and every test it names exists."""

import re

import pytest
from conftest import TEMPLATE

PAGE = TEMPLATE / "docs" / "features.md"
PLUGIN_TESTS = TEMPLATE / "{{cookiecutter.provider_name}}" / "tests"
TEST_REFERENCE = re.compile(r"`(test_\w+\.py)::(test_\w+)`")


def table_rows() -> list[list[str]]:
    """The cells of every table row under a heading, header and ruler rows left out."""
    rows = []
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] not in ("Row", "---"):
            rows.append(cells)
    return rows


def test_every_row_names_a_proof_or_says_why_it_does_not_apply():
    rows = table_rows()
    assert len(rows) >= 40
    for cells in rows:
        assert len(cells) == 5, cells
        assert TEST_REFERENCE.search(cells[4]) or cells[4].startswith("*n/a*"), cells


NAMED = sorted(set(TEST_REFERENCE.findall(PAGE.read_text(encoding="utf-8"))))


@pytest.mark.parametrize(("file", "test"), NAMED, ids=[f"{file}::{test}" for file, test in NAMED])
def test_each_named_test_exists_in_the_generated_suite(file, test):
    source = PLUGIN_TESTS / file
    assert source.is_file(), f"docs/features.md names {file}, which the template does not generate"
    assert re.search(rf"^def {test}\(", source.read_text(encoding="utf-8"), re.MULTILINE), f"{file} has no {test}"
