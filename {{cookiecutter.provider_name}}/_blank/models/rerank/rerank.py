{% set plan = cookiecutter | plan %}
from dify_plugin import RerankModel
from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelType
from dify_plugin.entities.model.rerank import MultiModalRerankResult, RerankResult
from dify_plugin.entities.model.text_embedding import MultiModalContent

from models.server.errors import ErrorMapping, not_implemented


class {{ plan.class_name("rerank") }}(ErrorMapping, RerankModel):
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

    def _invoke_multimodal(
        self,
        model: str,
        credentials: dict,
        query: MultiModalContent,
        docs: list[MultiModalContent],
        score_threshold: float | None = None,
        top_n: int | None = None,
        user: str | None = None,
    ) -> MultiModalRerankResult:
        """Return texts and images (base64 `content`) scored against a text or image query."""
        # TODO: only if your server ranks images; then also declare ModelFeature.VISION in
        # get_customizable_model_schema, or Dify never sends images. Otherwise delete this method.
        raise not_implemented("_invoke_multimodal", __file__)

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError if the server rejects these credentials."""
        # TODO: make a cheap real request to your server here.
        raise not_implemented("validate_credentials", __file__)

    def get_customizable_model_schema(self, model: str, credentials: dict) -> AIModelEntity:
        """Describe the model the user added."""
        return AIModelEntity(
            model=model,
            label=I18nObject(en_US=credentials.get("display_name") or model),
            model_type=ModelType.RERANK,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties={},
        )
