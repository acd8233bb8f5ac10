{% set plan = cookiecutter | plan %}
"""Chat and completion models on the server's OpenAI-style API.

Chat models use `POST /v1/chat/completions`; generate-only models (mode "completion") use
`POST /v1/completions`. Connections, auth, streaming and errors live in models/common.py;
features shared with other model types (display name, refused fields) in models/features.py.
"""

import json
import re
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
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
    ParameterType,
)
from dify_plugin.entities.model.llm import LLMMode, LLMResult, LLMResultChunk, LLMResultChunkDelta, LLMUsage
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    AudioPromptMessageContent,
    DocumentPromptMessageContent,
    ImagePromptMessageContent,
    PromptMessage,
    PromptMessageRole,
    PromptMessageTool,
    TextPromptMessageContent,
    ToolPromptMessage,
    VideoPromptMessageContent,
)
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeServerUnavailableError,
)

from models import common, features

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
# Answers of the `thinking` credential: "no" (default), or the model reasons always or on demand.
THINKING_SWITCHABLE, THINKING_ALWAYS = "switchable", "always"
REASONING_EFFORTS = ["low", "medium", "high"]
# Response formats of a model with structured output, as Dify's structured output expects them.
RESPONSE_FORMATS = ["text", "json_object", "json_schema"]
# Inputs besides text and images, named in the `extra_inputs` credential.
EXTRA_INPUTS = {"audio": ModelFeature.AUDIO, "video": ModelFeature.VIDEO, "document": ModelFeature.DOCUMENT}


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
            model, credentials, prompt_messages, model_parameters, tools, stop, stream, chat, user
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
        user: str | None = None,
    ) -> dict[str, Any]:
        """Return the JSON body of one chat or completion request."""
        # ADAPT: this is what the server receives. Add fields your server wants here (and their
        # parameter rules in get_customizable_model_schema); URLs, auth and errors: models/common.py.
        uid = common.model_uid(credentials, model)
        payload: dict[str, Any] = {"model": uid, "stream": stream}
        parameters = dict(model_parameters)
        payload.update(feature_fields(parameters))
        payload.update({name: value for name, value in parameters.items() if value is not None})
        if stop:
            payload["stop"] = stop
        if stream:
            payload["stream_options"] = {"include_usage": True}
        if user:
            payload["user"] = user  # Dify's id of the end user, for the server's logs and limits
        if not chat:
            payload["prompt"] = "\n\n".join(text for m in prompt_messages if (text := m.get_text_content()))
        else:
            payload["messages"] = [wire_message(message, credentials) for message in prompt_messages]
        if chat and tools:
            payload["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in tools
            ]
        return features.without_refused(payload, features.refused(credentials, uid))

    def _post(self, credentials: dict, path: str, payload: dict[str, Any]) -> common.Answer:
        """POST `payload`; if the server refuses an optional field, POST again without it."""
        return self._without_refusals(
            credentials, path, payload, lambda sent: common.request(credentials, "POST", path, json=sent)
        )

    def _events(self, credentials: dict, path: str, payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Stream events for `payload`; a refused optional field is dropped as in `_post`."""

        def start(sent: dict[str, Any]) -> tuple[Iterator[dict[str, Any]], dict[str, Any] | None]:
            events = common.stream_events(credentials, path, sent)
            return events, next(events, None)  # a refusal comes before the first event

        events, first = self._without_refusals(credentials, path, payload, start)
        if first is not None:
            yield first
            yield from events

    def _without_refusals[T](
        self, credentials: dict, path: str, payload: dict[str, Any], send: Callable[[dict[str, Any]], T]
    ) -> T:
        """`send(payload)`, sent again without each optional field the server refuses; the
        attempts after the first end within what is left of request_timeout."""
        conn = common.connection(credentials)
        deadline = time.monotonic() + conn.timeout
        message = f"POST {conn.base_url}/{path} did not complete within request_timeout = {conn.timeout:g} s"
        attempt: AbstractContextManager[None] = nullcontext()
        while True:
            try:
                with attempt:
                    return send(payload)
            except InvokeBadRequestError as error:
                payload = recover(credentials, payload, error)
            attempt = common.time_limit(deadline - time.monotonic(), message)

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
        json_answer = wants_json(payload)
        response = self._post(credentials, path, payload)
        body = common.json_object(response)
        where = response.url
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
        if reasoning and not json_answer:  # a JSON answer stays parseable as it is
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
        json_answer = wants_json(payload)
        asked = self._asked_tokens(credentials, payload)
        overrun = OVERRUN_FACTOR * asked + OVERRUN_SLACK
        produced = 0
        for events, event in enumerate(self._events(credentials, path, payload), start=1):
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
            if reasoning and not json_answer:
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
        """The most tokens this answer may have: max_tokens as sent (or max_completion_tokens,
        its name for servers that refuse it), else the model's limits."""
        asked = payload.get("max_tokens", payload.get("max_completion_tokens"))
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
        prompt = tokenizer.chat_prompt([wire_message(m, credentials) for m in prompt_messages], wire_tools)
        return tokenizer.count(prompt) if prompt is not None else None

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Return None if the server runs `model` as an LLM, else raise CredentialsValidateFailedError.

        What the server says about the model (Xinference's description, llama.cpp's /props) is
        stored in `credentials`, which Dify keeps: mode, tool calling, vision, other inputs,
        thinking, structured output and context size. The form asks only for the rest.
        """
        wanted = extra_inputs(credentials, strict=True)
        with common.credential_check(credentials):  # all requests together within CHECK_TIMEOUT
            info = common.validate_model(credentials, model, "llm")
            props = None if info else features.server_props(credentials, common.model_uid(credentials, model))
        found = capabilities(info) if info else props_capabilities(props) if props else {}
        detected = found.pop("extra_inputs", "")
        credentials.update(found)
        merged = ", ".join(sorted(set(wanted) | set(detected.split(", ")) - {""}))
        if merged or "extra_inputs" in credentials:
            credentials["extra_inputs"] = merged

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """Return the model's schema: mode, context size, features and parameter rules."""
        context_size = common.positive_int(credentials.get("context_size"), DEFAULT_CONTEXT_SIZE)
        max_tokens = min(common.positive_int(credentials.get("max_tokens"), context_size), context_size)
        mode = LLMMode.COMPLETION if credentials.get("mode") == LLMMode.COMPLETION.value else LLMMode.CHAT
        return AIModelEntity(
            model=model,
            label=features.label(model, credentials),
            model_type=ModelType.LLM,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            features=model_features(credentials),
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
                *feature_rules(credentials),
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


def wire_message(message: PromptMessage, credentials: Mapping[str, Any]) -> dict[str, Any]:
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
    return {"role": role, "content": wire_content(message.content, credentials)}


def wire_content(content: Any, credentials: Mapping[str, Any]) -> str | list[dict[str, Any]]:
    """Return plain text, or a list of content parts when there are images, audio, video or documents."""
    if not isinstance(content, list):
        return content or ""
    if all(isinstance(part, TextPromptMessageContent) for part in content):
        return "".join(part.data for part in content)
    return [wire_part(part, credentials) for part in content]


def wire_part(part: Any, credentials: Mapping[str, Any]) -> dict[str, Any]:
    """Return one content part in the shape OpenAI-style servers accept.

    Images, video and audio go as URL parts (a data URI when Dify sends the file itself), as
    Xinference and vLLM take them; audio goes as `input_audio` to servers that want that
    (llama.cpp, detected at validation). Documents go as OpenAI's `file` part.
    """
    if isinstance(part, TextPromptMessageContent):
        return {"type": "text", "text": part.data}
    if isinstance(part, ImagePromptMessageContent):
        return {"type": "image_url", "image_url": {"url": part.data, "detail": part.detail.value}}
    if isinstance(part, VideoPromptMessageContent):
        return {"type": "video_url", "video_url": {"url": part.data}}
    if isinstance(part, AudioPromptMessageContent):
        if credentials.get("audio_part") == "input_audio" and part.base64_data:
            return {"type": "input_audio", "input_audio": {"data": part.base64_data, "format": part.format}}
        return {"type": "audio_url", "audio_url": {"url": part.data}}
    if isinstance(part, DocumentPromptMessageContent):
        return {"type": "file", "file": {"filename": part.filename or "document", "file_data": part.data}}
    raise InvokeBadRequestError(f"this plugin cannot send {type(part).__name__} content")


def capabilities(info: dict[str, Any]) -> dict[str, str]:
    """Return the credential answers implied by Xinference's description of a model."""
    found: dict[str, str] = {}
    abilities = {str(ability).lower() for ability in info.get("model_ability") or []}
    if abilities:
        if "chat" in abilities:
            found["mode"] = LLMMode.CHAT.value
        elif "generate" in abilities:
            found["mode"] = LLMMode.COMPLETION.value
        found["function_calling"] = "yes" if "tools" in abilities else "no"
        found["vision"] = "yes" if abilities & {"vision", "omni"} else "no"
        # "hybrid": thinking can be switched off; "reasoning" alone: it always thinks.
        thinking = THINKING_SWITCHABLE if "hybrid" in abilities else THINKING_ALWAYS
        found["thinking"] = thinking if abilities & {"hybrid", "reasoning"} else "no"
        other = {"audio"} if abilities & {"audio", "omni"} else set()
        found["extra_inputs"] = ", ".join(sorted(other | ({"video"} if "omni" in abilities else set())))
    if info.get("model_format") == "ggufv2":
        found["structured_output"] = "yes"  # Xinference runs GGUF models on llama.cpp, which does
    context_length = info.get("context_length")
    if isinstance(context_length, int) and context_length > 0:
        found["context_size"] = str(context_length)
    return found


def props_capabilities(props: dict[str, Any]) -> dict[str, str]:
    """Return the credential answers implied by llama.cpp's `GET /props`."""
    found = {"structured_output": "yes"}  # llama.cpp turns any JSON schema into a grammar
    settings = props.get("default_generation_settings")
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    if isinstance(n_ctx, int) and n_ctx > 0:
        found["context_size"] = str(n_ctx)
    modalities = props.get("modalities") if isinstance(props.get("modalities"), dict) else {}
    found["vision"] = "yes" if modalities.get("vision") is True else "no"
    if modalities.get("audio") is True:
        found["extra_inputs"] = "audio"
        found["audio_part"] = "input_audio"
    caps = props.get("chat_template_caps") if isinstance(props.get("chat_template_caps"), dict) else {}
    if isinstance(caps.get("supports_tool_calls"), bool):
        found["function_calling"] = "yes" if caps["supports_tool_calls"] else "no"
    template = str(props.get("chat_template") or "")
    if "enable_thinking" in template:
        found["thinking"] = THINKING_SWITCHABLE  # the template reads the switch
    elif "<think>" in template or "reasoning_content" in template:
        found["thinking"] = THINKING_ALWAYS
    return found


def extra_inputs(credentials: Mapping[str, Any], strict: bool = False) -> list[str]:
    """The inputs besides text and images named in `extra_inputs` (audio, video, document).

    With `strict`, an unknown name raises CredentialsValidateFailedError naming the answer.
    """
    answer = str(credentials.get("extra_inputs") or "")
    named = {item.strip().lower().removesuffix("s") for item in re.split(r"[,;\s]+", answer)} - {""}
    for item in sorted(named):
        if strict and item not in EXTRA_INPUTS:
            raise CredentialsValidateFailedError(
                f"extra_inputs: {item!r} is not one of {', '.join(EXTRA_INPUTS)} (comma-separated)"
            )
    return [kind for kind in EXTRA_INPUTS if kind in named]


def model_features(credentials: Mapping[str, Any]) -> list[ModelFeature]:
    """The features Dify shows for the model: only those its credentials enable."""
    found = []
    if features.enabled(credentials, "function_calling"):
        found += [ModelFeature.TOOL_CALL, ModelFeature.MULTI_TOOL_CALL, ModelFeature.STREAM_TOOL_CALL]
    if features.enabled(credentials, "vision"):
        found.append(ModelFeature.VISION)
    found += [EXTRA_INPUTS[kind] for kind in extra_inputs(credentials)]
    if credentials.get("thinking") in (THINKING_SWITCHABLE, THINKING_ALWAYS):
        found.append(ModelFeature.AGENT_THOUGHT)
    if features.enabled(credentials, "structured_output"):
        found.append(ModelFeature.STRUCTURED_OUTPUT)
    return found


def feature_rules(credentials: Mapping[str, Any]) -> list[ParameterRule]:
    """The parameters of the features the credentials enable (none for a plain model)."""
    rules = []
    thinking = credentials.get("thinking")
    if thinking == THINKING_SWITCHABLE:
        rules.append(
            ParameterRule(
                name="enable_thinking",
                type=ParameterType.BOOLEAN,
                label=I18nObject(en_US="Thinking", zh_Hans="思考模式"),
                help=I18nObject(en_US="Let the model reason before it answers."),
            )
        )
    if thinking in (THINKING_SWITCHABLE, THINKING_ALWAYS):
        rules.append(
            ParameterRule(
                name="reasoning_effort",
                type=ParameterType.STRING,
                options=REASONING_EFFORTS,
                label=I18nObject(en_US="Reasoning effort", zh_Hans="推理强度"),
                help=I18nObject(en_US="How much the model reasons, for models that read this setting."),
            )
        )
    if features.enabled(credentials, "structured_output"):
        rules += [
            ParameterRule(
                name="response_format",
                type=ParameterType.STRING,
                options=RESPONSE_FORMATS,
                label=I18nObject(en_US="Response format", zh_Hans="回复格式"),
                help=I18nObject(en_US="json_schema makes the answer follow the JSON schema below."),
            ),
            ParameterRule(name="json_schema", use_template="json_schema"),
        ]
    return rules


def feature_fields(parameters: dict[str, Any]) -> dict[str, Any]:
    """Take the feature parameters out of `parameters`; return the request fields they become."""
    fields: dict[str, Any] = {}
    thinking = parameters.pop("enable_thinking", None)
    if thinking is not None:
        # Chat templates read either name (Qwen3 and GLM enable_thinking, DeepSeek thinking).
        fields["chat_template_kwargs"] = {"enable_thinking": bool(thinking), "thinking": bool(thinking)}
    effort = parameters.pop("reasoning_effort", None)
    if effort:
        fields["reasoning_effort"] = effort
    response_format = parameters.pop("response_format", None)
    schema = parameters.pop("json_schema", None)
    if response_format == "json_object":
        fields["response_format"] = {"type": "json_object"}
    elif response_format == "json_schema" or (response_format is None and schema):
        fields["response_format"] = {"type": "json_schema", "json_schema": json_schema_of(schema)}
    return fields


def json_schema_of(value: Any) -> dict[str, Any]:
    """The `json_schema` parameter as the request's `json_schema` object: {"name", "schema"}.

    Dify sends {"name": ..., "schema": {...}}; a bare JSON schema is accepted too.
    """
    if not value:
        raise InvokeBadRequestError("response_format json_schema needs the json_schema parameter")
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError as error:
        raise InvokeBadRequestError(f"json_schema is not valid JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise InvokeBadRequestError("json_schema must be a JSON object (a JSON schema)")
    if isinstance(parsed.get("schema"), dict):
        wrapped = {"name": str(parsed.get("name") or "answer"), "schema": parsed["schema"]}
        return wrapped | ({"strict": parsed["strict"]} if isinstance(parsed.get("strict"), bool) else {})
    return {"name": "answer", "schema": parsed}


def wants_json(payload: Mapping[str, Any]) -> bool:
    """Whether the request asks for a JSON answer (then reasoning is not put before it)."""
    response_format = payload.get("response_format")
    return isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema")


# Request fields of a feature, and the credential answer that makes this plugin send them.
FEATURE_ANSWERS = {
    "response_format": "structured_output",
    "chat_template_kwargs": "thinking",
    "reasoning_effort": "thinking",
}


def recover(credentials: Mapping[str, Any], payload: dict[str, Any], error: InvokeBadRequestError) -> dict:
    """The payload to send again after a 4xx answer, or raise that error, explained.

    An optional field the server refuses is left out (and remembered for this connection);
    a refused feature field gets an error saying which answer turns the feature off.
    """
    field = features.refused_field(error, payload)
    if field is None:
        message = str(error)
        for name, answer in FEATURE_ANSWERS.items():
            named = name in message or (name == "response_format" and "json_schema" in message)
            if name in payload and named:
                raise InvokeBadRequestError(
                    f"{message} (the server refused {name}: if it cannot do this, set {answer} to no "
                    "in this model's credentials)"
                ) from error
        raise error
    features.remember_refusal(credentials, payload["model"], field)
    return features.without_refused(payload, frozenset({field}))


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
