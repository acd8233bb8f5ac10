{% set plan = cookiecutter | plan %}
"""The provider-level credential check (reported as xfail until filled in).

Dify runs it when a user saves the provider's credentials; once filled in, it must refuse a
server it cannot reach with Dify's own error.
"""

import importlib

import pytest
from checks import unfinished, unreachable
from dify_plugin.errors.model import CredentialsValidateFailedError

# Loaded by name: a provider name such as `my-server` is not a valid Python identifier.
Provider = importlib.import_module("provider.{{ plan.provider }}").{{ plan.provider_class }}


def test_validate_provider_credentials_rejects_an_unreachable_server():
    provider = Provider(None, None)
    with unfinished(provider, "validate_provider_credentials"), pytest.raises(CredentialsValidateFailedError):
        provider.validate_provider_credentials(unreachable())
