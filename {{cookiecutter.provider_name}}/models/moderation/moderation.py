{% set plan = cookiecutter | plan %}
"""Moderation models on the server's OpenAI-style `POST /v1/moderations`.

Connections, auth and errors live in models/common.py.
"""

from collections.abc import Mapping

from dify_plugin import ModerationModel
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelType
from dify_plugin.errors.model import InvokeError, InvokeServerUnavailableError

from models import common, features

MODERATIONS_PATH = "moderations"
PROBE_TEXT = "Hello"  # what validation sends to check that the server moderates at all


class {{ plan.class_name("moderation") }}(ModerationModel):
    """Moderation models served by the {{ plan.provider }} server."""

    def _invoke(self, model: str, credentials: dict, text: str, user: str | None = None) -> bool:
        """Return True if the server flags `text`, False if it is fine."""
        if not text.strip():
            return False
        # ADAPT: this is the request the server receives and the answer read back. URLs, auth
        # and errors: models/common.py.
        payload = {"model": common.model_uid(credentials, model), "input": text}
        answer = common.request(credentials, "POST", MODERATIONS_PATH, json=payload)
        body = common.json_object(answer)
        results = body.get("results")
        if not isinstance(results, list) or not all(isinstance(result, dict) for result in results):
            raise InvokeServerUnavailableError(
                f"{answer.url} answered without a list of results: {common.excerpt(body)}"
            )
        return any(str(result.get("flagged")).lower() == "true" for result in results)

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError unless the server runs `model` and moderates with it.

        Servers do not describe moderation models, so one short text is moderated as a check,
        within the same time limit as any credential check.
        """
        with common.credential_check(credentials):
            common.validate_model(credentials, model, "moderation")
            self._invoke(model, credentials, PROBE_TEXT)

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """Return the model's schema; a moderation model has no properties to declare."""
        return AIModelEntity(
            model=model,
            label=features.label(model, credentials),
            model_type=ModelType.MODERATION,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties={},
        )

    def _transform_invoke_error(self, error: Exception) -> InvokeError:
        """Return Dify's error for `error`, keeping the message that names the server."""
        return common.as_invoke_error(error)

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        """Return which exceptions become which Dify errors (see models/common.py)."""
        return common.ERROR_MAPPING
