{% set plan = cookiecutter | plan %}
"""Chat and completion models on the server's OpenAI-style API.

Chat models use `POST /v1/chat/completions`; generate-only models (mode "completion") use
`POST /v1/completions`. Connections, auth, streaming and errors live in models/common.py.
"""

import json
import re
import uuid
from collections.abc import Generator, Mapping
from typing import Any

from dify_plugin import LargeLanguageModel
from dify_plugin.entities import I18nObject
from dify_plugin.entities.model import (
    AIModelEntity,
    FetchFrom,
    ModelFeature,
    ModelPropertyKey,
    ModelType,
    ParameterRule,
)
from dify_plugin.entities.model.llm import LLMMode, LLMResult, LLMResultChunk, LLMResultChunkDelta, LLMUsage
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    ImagePromptMessageContent,
    PromptMessage,
    PromptMessageRole,
    PromptMessageTool,
    TextPromptMessageContent,
    ToolPromptMessage,
)
from dify_plugin.errors.model import (
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeServerUnavailableError,
)

from models import common

CHAT_PATH = "chat/completions"
COMPLETION_PATH = "completions"  # generate-only models
DEFAULT_CONTEXT_SIZE = 4096
DEFAULT_MAX_TOKENS = 512
# What a chat template adds, for the offline estimate: role markers around each message
# (ChatML: <|im_start|>role\n ... <|im_end|>\n) and the opening of the reply.
TEMPLATE_TOKENS_PER_MESSAGE = 5
TEMPLATE_TOKENS_PER_REPLY = 3
# A stream is ended with an error once it runs this far past max_tokens (estimated tokens of
# text and tool calls, or events of any kind): a server that never stops cannot fill the memory.
OVERRUN_FACTOR = 4
OVERRUN_SLACK = 64
# Reasoning from earlier turns, as this plugin shows it; not sent back to the model.
THINK_BLOCK = re.compile(r"<think>.*?</think>\s*", re.DOTALL)


class {{ plan.class_name("llm") }}(LargeLanguageModel):
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
        chat = self.get_model_mode(model, credentials) == LLMMode.CHAT
        path = CHAT_PATH if chat else COMPLETION_PATH
        payload = self._payload(
            model, credentials, prompt_messages, model_parameters, tools, stop, stream, chat
        )
        if stream:
            return self._stream(model, credentials, path, payload, prompt_messages, tools)
        return self._block(model, credentials, path, payload, prompt_messages, tools)

    def _payload(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        model_parameters: dict,
        tools: list[PromptMessageTool] | None,
        stop: list[str] | None,
        stream: bool,
        chat: bool,
    ) -> dict[str, Any]:
        """Return the JSON body of one chat or completion request."""
        # ADAPT: this is what the server receives. Add fields your server wants here (and their
        # parameter rules in get_customizable_model_schema); URLs, auth and errors: models/common.py.
        payload: dict[str, Any] = {"model": common.model_uid(credentials, model), "stream": stream}
        payload.update({name: value for name, value in model_parameters.items() if value is not None})
        if stop:
            payload["stop"] = stop
        if stream:
            payload["stream_options"] = {"include_usage": True}
        if not chat:
            payload["prompt"] = "\n\n".join(text for m in prompt_messages if (text := m.get_text_content()))
            return payload
        payload["messages"] = [wire_message(message) for message in prompt_messages]
        if tools:
            payload["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in tools
            ]
        return payload

    def _block(
        self,
        model: str,
        credentials: dict,
        path: str,
        payload: dict[str, Any],
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None,
    ) -> LLMResult:
        """Return the whole answer of one request made with `stream: false`."""
        answer = common.request(credentials, "POST", path, json=payload)
        body = common.json_object(answer)
        where = answer.url
        choice = first_choice(body, where)
        if choice is None:
            raise InvokeServerUnavailableError(f"{where} answered without any choice: {common.excerpt(body)}")
        message = choice.get("message") if path == CHAT_PATH else {"content": choice.get("text")}
        if not isinstance(message, dict):
            raise InvokeServerUnavailableError(
                f"{where} answered a choice without a message: {common.excerpt(body)}"
            )
        content = text_of(message.get("content"))
        reasoning = text_of(message.get("reasoning_content") or message.get("reasoning"))
        if reasoning:
            content = f"<think>\n{reasoning}\n</think>\n{content}"
        raw_calls = message.get("tool_calls")
        tool_calls = [
            tool_call(call.get("id"), call.get("function"))
            for call in (raw_calls if isinstance(raw_calls, list) else [])
            if isinstance(call, dict)
        ]
        answer = content + "".join(call.function.arguments for call in tool_calls)
        usage = self._usage(model, credentials, body.get("usage"), prompt_messages, tools, answer)
        return LLMResult(
            model=model,
            message=AssistantPromptMessage(content=content, tool_calls=tool_calls),
            usage=usage,
        )

    def _stream(
        self,
        model: str,
        credentials: dict,
        path: str,
        payload: dict[str, Any],
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None,
    ) -> Generator[LLMResultChunk, None, None]:
        """Yield the answer's text as it arrives, then one chunk with tool calls, usage and finish reason."""
        try:
            yield from self._stream_chunks(model, credentials, path, payload, prompt_messages, tools)
        except InvokeError:
            raise
        except Exception as error:  # the SDK maps errors only until a stream starts
            raise self._transform_invoke_error(error) from error

    def _stream_chunks(
        self,
        model: str,
        credentials: dict,
        path: str,
        payload: dict[str, Any],
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None,
    ) -> Generator[LLMResultChunk, None, None]:
        where = f"{common.connection(credentials).base_url}/{path}"
        calls = ToolCallBuffer()
        answer: list[str] = []
        index = 0
        usage: Any = None
        finish_reason: str | None = None
        thinking = False
        asked = self._asked_tokens(credentials, payload)
        overrun = OVERRUN_FACTOR * asked + OVERRUN_SLACK
        produced = 0
        for events, event in enumerate(common.stream_events(credentials, path, payload), start=1):
            if events > overrun or produced > overrun:
                raise InvokeServerUnavailableError(
                    f"{where} kept streaming far past max_tokens = {asked} (about {produced} tokens in "
                    f"{events} events), so the answer was ended"
                )
            usage = event.get("usage") or usage
            choice = first_choice(event, where)
            if choice is None:
                continue  # e.g. the last event, which carries only the usage
            delta = (choice.get("delta") or {}) if path == CHAT_PATH else {"content": choice.get("text")}
            if not isinstance(delta, dict):
                raise InvokeServerUnavailableError(
                    f"{where} streamed a choice without a delta: {common.excerpt(event)}"
                )
            finish_reason = text_of(choice.get("finish_reason")) or finish_reason
            text = ""
            reasoning = text_of(delta.get("reasoning_content") or delta.get("reasoning"))
            if reasoning:
                text = reasoning if thinking else f"<think>\n{reasoning}"
                thinking = True
            content = text_of(delta.get("content"))
            if thinking and (content or delta.get("tool_calls") or finish_reason):
                text += "\n</think>\n"
                thinking = False
            text += content
            produced += common.estimate_tokens(text) + calls.add(delta.get("tool_calls"))
            if text:
                answer.append(text)
                yield chunk(model, index, AssistantPromptMessage(content=text))
                index += 1
        if finish_reason is None:
            raise InvokeConnectionError(
                f"{where} ended the stream before the answer was finished (no finish_reason): "
                "the connection was probably cut"
            )
        tool_calls = calls.tool_calls()
        answer.extend(call.function.arguments for call in tool_calls)
        final = AssistantPromptMessage(content="", tool_calls=tool_calls)
        last = chunk(model, index, final, finish_reason)
        last.delta.usage = self._usage(model, credentials, usage, prompt_messages, tools, "".join(answer))
        yield last

    def _asked_tokens(self, credentials: dict, payload: dict[str, Any]) -> int:
        """The most tokens this answer may have: max_tokens as sent, else the model's limits."""
        asked = payload.get("max_tokens")
        if type(asked) is int and asked > 0:
            return asked
        context_size = common.positive_int(credentials.get("context_size"), DEFAULT_CONTEXT_SIZE)
        return common.positive_int(credentials.get("max_tokens"), context_size)

    def _usage(
        self,
        model: str,
        credentials: dict,
        reported: Any,
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None,
        answer: str,
    ) -> LLMUsage:
        """Return the usage the server reported, or an offline estimate where it reported none.

        Counts that are not whole numbers of at least zero are not usage; they are estimated too.
        """
        reported = reported if isinstance(reported, dict) else {}
        prompt_tokens = reported.get("prompt_tokens")
        completion_tokens = reported.get("completion_tokens")
        if type(prompt_tokens) is not int or prompt_tokens < 0:  # estimated: no request after the answer
            prompt_tokens = self._estimate_prompt_tokens(model, credentials, prompt_messages, tools)
        if type(completion_tokens) is not int or completion_tokens < 0:
            completion_tokens = common.estimate_tokens(answer)
        return self._calc_response_usage(model, credentials, prompt_tokens, completion_tokens)

    def get_num_tokens(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None = None,
    ) -> int:
        """Return the prompt's tokens, tool definitions included: as the server counts them where
        it has a tokenizer (its chat template applied), else estimated offline."""
        counted = self._count_on_server(model, credentials, prompt_messages, tools)
        if counted is not None:
            return counted
        return self._estimate_prompt_tokens(model, credentials, prompt_messages, tools)

    def _estimate_prompt_tokens(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None,
    ) -> int:
        """The offline estimate of the prompt's tokens, the chat template's own tokens included."""
        texts = [message.get_text_content() for message in prompt_messages]
        for message in prompt_messages:
            if isinstance(message, AssistantPromptMessage):
                texts += [f"{c.function.name}({c.function.arguments})" for c in message.tool_calls]
        if tools:
            texts.append(json.dumps([tool.model_dump() for tool in tools], ensure_ascii=False))
        overhead = 0
        if self.get_model_mode(model, credentials) == LLMMode.CHAT:
            overhead = TEMPLATE_TOKENS_PER_MESSAGE * len(prompt_messages) + TEMPLATE_TOKENS_PER_REPLY
        return common.estimate_tokens("\n".join(texts)) + overhead

    def _count_on_server(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None,
    ) -> int | None:
        """The prompt's tokens as the server counts them, or None if it has no tokenizer to ask."""
        tokenizer = common.Tokenizer(credentials, common.model_uid(credentials, model))
        if self.get_model_mode(model, credentials) != LLMMode.CHAT:
            prompt = "\n\n".join(text for m in prompt_messages if (text := m.get_text_content()))
            return tokenizer.count(prompt)
        wire_tools = self._payload(model, credentials, [], {}, tools, None, False, True).get("tools")
        prompt = tokenizer.chat_prompt([wire_message(m) for m in prompt_messages], wire_tools)
        return tokenizer.count(prompt) if prompt is not None else None

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Return None if the server runs `model` as an LLM, else raise CredentialsValidateFailedError.

        What the server says about the model (Xinference does) is stored in `credentials`,
        which Dify keeps: mode, tool calling, vision and context size.
        """
        info = common.validate_model(credentials, model, "llm")
        if info:
            credentials.update(capabilities(info))

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """Return the model's schema: mode, context size, features and parameter rules."""
        context_size = common.positive_int(credentials.get("context_size"), DEFAULT_CONTEXT_SIZE)
        max_tokens = min(common.positive_int(credentials.get("max_tokens"), context_size), context_size)
        features = []
        if credentials.get("function_calling") == "yes":
            features += [ModelFeature.TOOL_CALL, ModelFeature.MULTI_TOOL_CALL, ModelFeature.STREAM_TOOL_CALL]
        if credentials.get("vision") == "yes":
            features.append(ModelFeature.VISION)
        mode = LLMMode.COMPLETION if credentials.get("mode") == LLMMode.COMPLETION.value else LLMMode.CHAT
        return AIModelEntity(
            model=model,
            label=I18nObject(en_US=model),
            model_type=ModelType.LLM,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            features=features,
            model_properties={ModelPropertyKey.MODE: mode.value, ModelPropertyKey.CONTEXT_SIZE: context_size},
            parameter_rules=[
                ParameterRule(name="temperature", use_template="temperature"),
                ParameterRule(name="top_p", use_template="top_p"),
                ParameterRule(name="presence_penalty", use_template="presence_penalty"),
                ParameterRule(name="frequency_penalty", use_template="frequency_penalty"),
                ParameterRule(
                    name="max_tokens",
                    use_template="max_tokens",
                    min=1,
                    max=max_tokens,
                    default=min(DEFAULT_MAX_TOKENS, max_tokens),
                ),
            ],
        )

    def _transform_invoke_error(self, error: Exception) -> InvokeError:
        """Return Dify's error for `error`, keeping the message that names the server."""
        return common.as_invoke_error(error)

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        """Return which exceptions become which Dify errors (see models/common.py)."""
        return common.ERROR_MAPPING


class ToolCallBuffer:
    """Tool calls streamed in pieces, merged by index (or id) until the stream ends."""

    def __init__(self) -> None:
        self._calls: list[dict[str, Any]] = []
        self._by_index: dict[Any, dict[str, Any]] = {}
        self._by_id: dict[str, dict[str, Any]] = {}

    def add(self, pieces: Any) -> int:
        """Merge one delta's `tool_calls` list into the calls seen so far; return its estimated tokens."""
        tokens = 0
        for piece in pieces if isinstance(pieces, list) else []:
            if not isinstance(piece, dict):
                continue
            call = self._find(piece)
            if call is None:
                call = {"id": "", "name": "", "arguments": ""}
                self._calls.append(call)
            if piece.get("index") is not None:
                self._by_index[piece["index"]] = call
            if piece.get("id"):
                call["id"] = str(piece["id"])
                self._by_id[call["id"]] = call
            function = piece.get("function") if isinstance(piece.get("function"), dict) else {}
            call["name"] = call["name"] or text_of(function.get("name"))
            arguments = function.get("arguments")
            arguments = arguments if isinstance(arguments, str) else json_text(arguments)
            call["arguments"] += arguments
            tokens += common.estimate_tokens(arguments) + 1
        return tokens

    def _find(self, piece: dict[str, Any]) -> dict[str, Any] | None:
        call_id, index = piece.get("id"), piece.get("index")
        if call_id and call_id in self._by_id:
            return self._by_id[call_id]
        if index is not None and index in self._by_index:
            known = self._by_index[index]
            # The same index with another id: a server that numbers every call 0.
            return None if call_id and known["id"] else known
        if index is None and not call_id and self._calls:
            return self._calls[-1]  # a continuation without index or id
        return None

    def tool_calls(self) -> list[AssistantPromptMessage.ToolCall]:
        """Return the complete calls, in the order they started."""
        return [tool_call(c["id"], {"name": c["name"], "arguments": c["arguments"]}) for c in self._calls]


def wire_message(message: PromptMessage) -> dict[str, Any]:
    """Return one prompt message in the chat completions format."""
    if isinstance(message, ToolPromptMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.get_text_content()}
    if isinstance(message, AssistantPromptMessage):
        wire: dict[str, Any] = {
            "role": "assistant",
            "content": THINK_BLOCK.sub("", message.get_text_content()),
        }
        if message.tool_calls:
            wire["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
                for call in message.tool_calls
            ]
        return wire
    # Few self-hosted servers know the "developer" role; it means the same as "system".
    role = "system" if message.role == PromptMessageRole.DEVELOPER else message.role.value
    return {"role": role, "content": wire_content(message.content)}


def wire_content(content: Any) -> str | list[dict[str, Any]]:
    """Return plain text, or a list of text and `image_url` parts when there are images."""
    if not isinstance(content, list):
        return content or ""
    if not any(isinstance(part, ImagePromptMessageContent) for part in content):
        return "".join(part.data for part in content if isinstance(part, TextPromptMessageContent))
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPromptMessageContent):
            parts.append({"type": "text", "text": part.data})
        elif isinstance(part, ImagePromptMessageContent):
            parts.append({"type": "image_url", "image_url": {"url": part.data, "detail": part.detail.value}})
        else:
            raise InvokeBadRequestError(f"this plugin sends only text and images, not {part.type} content")
    return parts


def capabilities(info: dict[str, Any]) -> dict[str, str]:
    """Return the credential answers implied by the server's description of a model."""
    found: dict[str, str] = {}
    abilities = {str(ability).lower() for ability in info.get("model_ability") or []}
    if abilities:
        if "chat" in abilities:
            found["mode"] = LLMMode.CHAT.value
        elif "generate" in abilities:
            found["mode"] = LLMMode.COMPLETION.value
        found["function_calling"] = "yes" if "tools" in abilities else "no"
        found["vision"] = "yes" if "vision" in abilities else "no"
    context_length = info.get("context_length")
    if isinstance(context_length, int) and context_length > 0:
        found["context_size"] = str(context_length)
    return found


def first_choice(body: dict[str, Any], where: str) -> dict[str, Any] | None:
    """Return the first choice of an answer or stream event, or None if it has none."""
    choices = body.get("choices")
    if not choices:
        return None
    if not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise InvokeServerUnavailableError(
            f"{where} answered choices of an unexpected shape: {common.excerpt(body)}"
        )
    return choices[0]


def tool_call(call_id: Any, function: Any) -> AssistantPromptMessage.ToolCall:
    """Return Dify's tool call; servers that give no id get a generated one."""
    function = function if isinstance(function, dict) else {}
    arguments = function.get("arguments")
    return AssistantPromptMessage.ToolCall(
        id=str(call_id or f"call_{uuid.uuid4().hex[:24]}"),
        type="function",
        function=AssistantPromptMessage.ToolCall.ToolCallFunction(
            name=text_of(function.get("name")),
            arguments=arguments if isinstance(arguments, str) else json_text(arguments),
        ),
    )


def chunk(
    model: str, index: int, message: AssistantPromptMessage, finish_reason: str | None = None
) -> LLMResultChunk:
    return LLMResultChunk(
        model=model, delta=LLMResultChunkDelta(index=index, message=message, finish_reason=finish_reason)
    )


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def json_text(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False)
