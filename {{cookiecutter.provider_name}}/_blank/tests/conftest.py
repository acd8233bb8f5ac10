"""Fixtures shared by every test: the plugin run over stdio as Dify runs it."""

from collections.abc import Iterator

import pytest

from scripts.check.plugin import PluginProcess


@pytest.fixture(scope="session")
def plugin() -> Iterator[PluginProcess]:
    running = PluginProcess()
    yield running
    running.stop()
