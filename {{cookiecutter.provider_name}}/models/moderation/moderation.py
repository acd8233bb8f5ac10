{% set plan = cookiecutter | plan %}
"""Moderation models on the server's OpenAI-style `POST /v1/moderations`.

Connections, auth and errors live in models/server/.
"""

from collections.abc import Mapping

from dify_plugin import ModerationModel
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelType
from dify_plugin.errors.model import InvokeServerUnavailableError

from models import features
from models.server.connection import Connection, model_uid
from models.server.errors import ErrorMapping, excerpt
from models.server.probes import credential_check, validate_model
from models.server.transport import json_object, request

MODERATIONS_PATH = "moderations"
PROBE_TEXT = "Hello"  # what validation sends to check that the server moderates at all


class {{ plan.class_name("moderation") }}(ErrorMapping, ModerationModel):
    """Moderation models served by the {{ plan.provider }} server."""

    def _invoke(self, model: str, credentials: dict, text: str, user: str | None = None) -> bool:
        """Return True if the server flags `text`, False if it is fine."""
        return self._flags(Connection.of(credentials), model_uid(credentials, model), text)

    def _flags(self, conn: Connection, uid: str, text: str) -> bool:
        if not text.strip():
            return False
        # ADAPT: this is the request the server receives and the answer read back. URLs, auth
        # and errors: models/server/.
        answer = request(conn, "POST", MODERATIONS_PATH, json={"model": uid, "input": text})
        body = json_object(answer)
        results = body.get("results")
        if not isinstance(results, list) or not all(isinstance(result, dict) for result in results):
            raise InvokeServerUnavailableError(
                f"{answer.url} answered without a list of results: {excerpt(body)}"
            )
        return any(str(result.get("flagged")).lower() == "true" for result in results)

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError unless the server runs `model` and moderates with it.

        Servers do not describe moderation models, so one short text is moderated as a check,
        within the same time limit as any credential check.
        """
        uid = model_uid(credentials, model)
        with credential_check(credentials) as conn:
            validate_model(conn, credentials, uid, "moderation")
            self._flags(conn, uid, PROBE_TEXT)

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """Return the model's schema; a moderation model has no properties to declare."""
        return AIModelEntity(
            model=model,
            label=features.label(model, credentials),
            model_type=ModelType.MODERATION,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties={},
        )
