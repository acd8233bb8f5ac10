{% set plan = cookiecutter | plan %}
from dify_plugin import ModelProvider
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeError

from models import common


class {{ plan.provider_class }}(ModelProvider):
    """Provider-level checks for the {{ plan.provider }} server."""

    def validate_provider_credentials(self, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError unless the server at `server_url` answers with this key."""
        try:
            common.model_ids(credentials)
        except InvokeError as error:
            raise CredentialsValidateFailedError(str(error)) from None
