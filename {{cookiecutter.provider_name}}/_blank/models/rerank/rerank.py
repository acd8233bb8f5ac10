{% set plan = cookiecutter | plan %}
from dify_plugin import RerankModel
from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelType
from dify_plugin.entities.model.rerank import RerankResult
from dify_plugin.errors.model import InvokeError

from models.common import ERROR_MAPPING, not_implemented


class {{ plan.class_name("rerank") }}(RerankModel):
    """Rerank models served by the {{ plan.provider }} server."""

    def _invoke(
        self,
        model: str,
        credentials: dict,
        query: str,
        docs: list[str],
        score_threshold: float | None = None,
        top_n: int | None = None,
        user: str | None = None,
    ) -> RerankResult:
        """Return the documents scored against `query`, best first, filtered and cut to `top_n`."""
        # TODO: call your server here.
        raise not_implemented("_invoke", __file__)

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError if the server rejects these credentials."""
        # TODO: make a cheap real request to your server here.
        raise not_implemented("validate_credentials", __file__)

    def get_customizable_model_schema(self, model: str, credentials: dict) -> AIModelEntity:
        """Describe the model the user added."""
        return AIModelEntity(
            model=model,
            label=I18nObject(en_US=model),
            model_type=ModelType.RERANK,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties={},
        )

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        """Map the exceptions your client raises to Dify's invoke errors (see models/common.py)."""
        return ERROR_MAPPING
