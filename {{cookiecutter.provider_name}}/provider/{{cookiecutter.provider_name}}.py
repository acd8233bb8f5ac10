{% set plan = cookiecutter | plan %}
from dify_plugin import ModelProvider
from dify_plugin.errors.model import InvokeError

from models.server.connection import Connection
from models.server.errors import validation_failed
from models.server.probes import model_ids


class {{ plan.provider_class }}(ModelProvider):
    """Provider-level checks for the {{ plan.provider }} server."""

    def validate_provider_credentials(self, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError unless the server at `server_url` answers with this key."""
        try:
            model_ids(Connection.of(credentials))
        except InvokeError as error:
            raise validation_failed(error) from None
