{% set plan = cookiecutter | plan %}
"""The plugin's YAML files are valid for the dify_plugin SDK, as the runtime loads them."""

from pathlib import Path

import pytest
import yaml
from dify_plugin.core.entities.plugin.setup import PluginConfiguration
from dify_plugin.entities.model.provider import ModelProviderConfiguration

ROOT = Path(__file__).resolve().parents[1]


def load(path: str) -> dict:
    return yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))


def test_manifest_is_a_valid_plugin_configuration():
    manifest = PluginConfiguration(**load("manifest.yaml"))
    assert manifest.name == "{{ plan.provider }}"
    assert (ROOT / "_assets" / manifest.icon).is_file()


def test_provider_yaml_is_valid_and_lists_existing_sources(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)  # predefined model globs are relative to the plugin root
    provider = ModelProviderConfiguration(**load("provider/{{ plan.provider }}.yaml"))
    expected_types = {{ plan.type_names | tojson }}
    assert [t.value for t in provider.supported_model_types] == expected_types
    sources = [provider.extra.python.provider_source, *provider.extra.python.model_sources]
    assert all((ROOT / source).is_file() for source in sources)
    for icon in (provider.icon_small, provider.icon_large):
        assert (ROOT / "_assets" / icon.en_us).is_file()
{% if plan.predefined %}
    assert {m.model_type.value for m in provider.models} == set(expected_types)
{% endif %}


def test_plugin_registers_over_stdio(plugin):
    assert plugin.registration["name"] == "{{ plan.provider }}"
    assert plugin.registration["plugins"]["models"] == ["provider/{{ plan.provider }}.yaml"]
