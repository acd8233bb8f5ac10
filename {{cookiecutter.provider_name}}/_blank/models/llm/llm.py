{% set plan = cookiecutter | plan %}
from collections.abc import Generator

from dify_plugin import LargeLanguageModel
from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import (
    AIModelEntity,
    FetchFrom,
    ModelFeature,
    ModelPropertyKey,
    ModelType,
    ParameterRule,
    ParameterType,
)
from dify_plugin.entities.model.llm import LLMMode, LLMResult, LLMResultChunk
from dify_plugin.entities.model.message import PromptMessage, PromptMessageTool

from models.server.errors import ErrorMapping, not_implemented


class {{ plan.class_name("llm") }}(ErrorMapping, LargeLanguageModel):
    """Chat and completion models served by the {{ plan.provider }} server."""

    def _invoke(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        model_parameters: dict,
        tools: list[PromptMessageTool] | None = None,
        stop: list[str] | None = None,
        stream: bool = True,
        user: str | None = None,
    ) -> LLMResult | Generator[LLMResultChunk, None, None]:
        """Return an LLMResult, or a generator of LLMResultChunk when `stream` is true."""
        # TODO: call your server here. `model_parameters` holds the parameters whose rules
        # get_customizable_model_schema declares (e.g. enable_thinking, response_format,
        # json_schema): turn them into the fields your server reads. `user` is Dify's id of the
        # end user. Reasoning goes before the answer as "<think>\n...\n</think>\n"; a JSON answer
        # (response_format json_schema or json_object) is returned bare, without it.
        raise not_implemented("_invoke", __file__)

    def get_num_tokens(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None = None,
    ) -> int:
        """Return the prompt's token count; an offline estimate is fine."""
        # A rough estimate (about four characters per token) that needs no download.
        text = "".join(str(message.content or "") for message in prompt_messages)
        return max(1, len(text) // 4) if text else 0

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError if the server rejects these credentials."""
        # TODO: make a cheap real request to your server here.
        raise not_implemented("validate_credentials", __file__)

    def get_customizable_model_schema(self, model: str, credentials: dict) -> AIModelEntity:
        """Describe the model the user added: its mode, context size, features and parameters."""
        context_size = int(credentials.get("context_size") or 4096)
        # TODO: declare what the model can do, and only that; Dify offers each feature only for
        # models that declare it. TOOL_CALL, MULTI_TOOL_CALL, STREAM_TOOL_CALL: tools; VISION,
        # AUDIO, VIDEO, DOCUMENT: content parts _invoke must then send; AGENT_THOUGHT: a reasoning
        # model (add a boolean `enable_thinking` rule if it can be switched off); STRUCTURED_OUTPUT:
        # also add a `response_format` rule (options text, json_object, json_schema) and
        # ParameterRule(name="json_schema", use_template="json_schema").
        features: list[ModelFeature] = []
        return AIModelEntity(
            model=model,
            label=I18nObject(en_US=credentials.get("display_name") or model),
            model_type=ModelType.LLM,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            features=features,
            model_properties={
                ModelPropertyKey.MODE: credentials.get("mode") or LLMMode.CHAT.value,
                ModelPropertyKey.CONTEXT_SIZE: context_size,
            },
            parameter_rules=[
                ParameterRule(
                    name="temperature",
                    use_template="temperature",
                    type=ParameterType.FLOAT,
                    label=I18nObject(en_US="Temperature"),
                ),
                ParameterRule(
                    name="top_p",
                    use_template="top_p",
                    type=ParameterType.FLOAT,
                    label=I18nObject(en_US="Top P"),
                ),
                ParameterRule(
                    name="max_tokens",
                    use_template="max_tokens",
                    type=ParameterType.INT,
                    label=I18nObject(en_US="Max Tokens"),
                    min=1,
                    max=context_size,
                    default=512,
                ),
            ],
        )
