{% set plan = cookiecutter | plan %}
from dify_plugin import ModelProvider

from models.server.errors import not_implemented


class {{ plan.provider_class }}(ModelProvider):
    """Provider-level checks for the {{ plan.provider }} server."""

    def validate_provider_credentials(self, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError unless the server answers with these credentials."""
        # TODO: make a cheap real request to your server here (e.g. list its models).
        raise not_implemented("validate_provider_credentials", __file__)
