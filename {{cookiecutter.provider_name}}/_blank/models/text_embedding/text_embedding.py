{% set plan = cookiecutter | plan %}
from dify_plugin import TextEmbeddingModel
from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import (
    AIModelEntity,
    EmbeddingInputType,
    FetchFrom,
    ModelPropertyKey,
    ModelType,
)
from dify_plugin.entities.model.text_embedding import (
    MultiModalContent,
    MultiModalEmbeddingResult,
    TextEmbeddingResult,
)

from models.server.errors import ErrorMapping, not_implemented


class {{ plan.class_name("text-embedding") }}(ErrorMapping, TextEmbeddingModel):
    """Text embedding models served by the {{ plan.provider }} server."""

    def _invoke(
        self,
        model: str,
        credentials: dict,
        texts: list[str],
        user: str | None = None,
        input_type: EmbeddingInputType = EmbeddingInputType.DOCUMENT,
    ) -> TextEmbeddingResult:
        """Return one embedding per text, in the order of `texts`, with usage."""
        # TODO: call your server here. Models that want an instruction before queries or
        # documents (e.g. "query: " for E5) get it here: `input_type` says which the texts are.
        raise not_implemented("_invoke", __file__)

    def _invoke_multimodal(
        self,
        model: str,
        credentials: dict,
        documents: list[MultiModalContent],
        user: str | None = None,
        input_type: EmbeddingInputType = EmbeddingInputType.DOCUMENT,
    ) -> MultiModalEmbeddingResult:
        """Return one embedding per text or image (base64 `content`), in the order of `documents`."""
        # TODO: only if your server embeds images; then also declare ModelFeature.VISION in
        # get_customizable_model_schema, or Dify never sends images. Otherwise delete this method.
        raise not_implemented("_invoke_multimodal", __file__)

    def get_num_tokens(self, model: str, credentials: dict, texts: list[str]) -> list[int]:
        """Return the token count of each text; an offline estimate is fine."""
        return [max(1, len(text) // 4) for text in texts]

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError if the server rejects these credentials."""
        # TODO: make a cheap real request to your server here.
        raise not_implemented("validate_credentials", __file__)

    def get_customizable_model_schema(self, model: str, credentials: dict) -> AIModelEntity:
        """Describe the model the user added: its context size and batch size."""
        return AIModelEntity(
            model=model,
            label=I18nObject(en_US=credentials.get("display_name") or model),
            model_type=ModelType.TEXT_EMBEDDING,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            model_properties={
                ModelPropertyKey.CONTEXT_SIZE: int(credentials.get("context_size") or 512),
                ModelPropertyKey.MAX_CHUNKS: int(credentials.get("max_chunks") or 32),
            },
        )
