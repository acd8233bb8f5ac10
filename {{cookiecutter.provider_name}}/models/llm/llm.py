{% set plan = cookiecutter | plan %}
"""Chat and completion models on the server's OpenAI-style API.

Chat models use `POST /v1/chat/completions`; generate-only models (mode "completion") use
`POST /v1/completions`. A call reads its credentials once, into a Connection and LLMSettings
(settings.py), and passes those down. Beside this file: messages.py (the request's messages),
answers.py (reading answers), chunks.py (joining stream events), capabilities.py (features and
parameters).
Connections, streaming and errors: models/server/; features shared with other types: models/features.py.
"""

import json
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from dify_plugin import LargeLanguageModel
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelPropertyKey, ModelType
from dify_plugin.entities.model.llm import LLMMode, LLMResult, LLMResultChunk, LLMUsage
from dify_plugin.entities.model.message import AssistantPromptMessage, PromptMessage, PromptMessageTool
from dify_plugin.errors.model import InvokeBadRequestError, InvokeError

from models import features
from models.llm.answers import StreamedAnswer, chunk, read_message
from models.llm.capabilities import extra_inputs, feature_fields, model_features, recover, wants_json
from models.llm.chunks import joined
from models.llm.detection import learn
from models.llm.messages import carried_reasoning, prompt_text, wire_message, wire_tools
from models.llm.parameters import parameter_rules, take_extra_body, with_extra_body
from models.llm.settings import LLMSettings, predefined_answers
from models.server.connection import Connection, model_uid
from models.server.errors import ErrorMapping
from models.server.events import stream_events
from models.server.probes import credential_check, described_features, validate_model
from models.server.tokens import Tokenizer, estimate_tokens
from models.server.transport import json_object, request, time_limit

CHAT_PATH = "chat/completions"
COMPLETION_PATH = "completions"  # generate-only models
# What a chat template adds, for the offline estimate: role markers around each message
# (ChatML: <|im_start|>role\n ... <|im_end|>\n) and the opening of the reply.
TEMPLATE_TOKENS_PER_MESSAGE = 5
TEMPLATE_TOKENS_PER_REPLY = 3


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
        conn, llm = Connection.of(credentials), self._settings(model, credentials)
        path = CHAT_PATH if llm.chat else COMPLETION_PATH
        # ADAPT: this is what the server receives. Add fields your server wants here (and their
        # parameter rules in get_customizable_model_schema); the message format: messages.py.
        payload: dict[str, Any] = {"model": llm.uid, "stream": stream}
        parameters = dict(model_parameters)
        extra_body = take_extra_body(parameters)
        payload.update(feature_fields(parameters))
        payload.update({name: value for name, value in parameters.items() if value is not None})
        if "max_tokens" not in payload and "max_completion_tokens" not in payload:
            payload["max_tokens"] = llm.max_tokens  # an answer nobody reads (Stop in Dify) ends there
        if stop:
            payload["stop"] = stop
        if stream:
            payload["stream_options"] = {"include_usage": True}
        if user:
            payload["user"] = user  # Dify's id of the end user, for the server's logs and limits
        if not llm.chat:
            payload["prompt"] = prompt_text(prompt_messages)
        else:
            payload["messages"] = [wire_message(message, llm.input_audio) for message in prompt_messages]
            if tools:
                payload["tools"] = wire_tools(tools)
        payload = with_extra_body(payload, extra_body)
        payload = features.without_refused(payload, features.refused(conn, payload["model"]))
        if stream:
            return self._stream(model, credentials, llm, conn, path, payload, prompt_messages, tools)
        return self._block(model, credentials, llm, conn, path, payload, prompt_messages, tools)

    def _settings(self, model: str, credentials: Mapping) -> LLMSettings:
        """The call's settings: a predefined model's mode and context size come from its YAML
        (models/llm/*.yaml), a customizable model's from its credentials."""
        predefined = next((schema for schema in self.predefined_models() if schema.model == model), None)
        if predefined is None:
            return LLMSettings.of(model, credentials)
        return LLMSettings.of(model, {**credentials, **predefined_answers(predefined)})

    def _without_refusals[T](
        self, conn: Connection, path: str, payload: dict[str, Any], send: Callable[[dict[str, Any]], T]
    ) -> T:
        """`send(payload)`, sent again without each optional field the server refuses (or with a
        max_tokens that fits the context); the attempts after the first end within what is left
        of request_timeout."""
        deadline, first = time.monotonic() + conn.timeout, payload
        message = f"POST {conn.url(path)} did not complete within request_timeout = {conn.timeout:g} s"
        attempt: AbstractContextManager[None] = nullcontext()
        while True:
            try:
                with attempt:
                    return send(payload)
            except InvokeBadRequestError as error:
                payload = recover(conn, payload, error, first)
            attempt = time_limit(deadline - time.monotonic(), message)

    def _events(
        self, conn: Connection, path: str, payload: dict[str, Any], longest: float
    ) -> Iterator[dict[str, Any]]:
        """Stream events for `payload`, those that arrived together joined, for at most `longest`
        seconds; a refused optional field is dropped as in `_block`."""

        def start(sent: dict[str, Any]) -> tuple[Iterator[list[dict[str, Any]]], list[dict[str, Any]] | None]:
            batches = stream_events(conn, path, sent, longest)
            return batches, next(batches, None)  # a refusal comes before the first event

        batches, first = self._without_refusals(conn, path, payload, start)
        if first is not None:
            yield from joined(first)
            for batch in batches:
                yield from joined(batch)

    def _block(
        self,
        model: str,
        credentials: dict,
        llm: LLMSettings,
        conn: Connection,
        path: str,
        payload: dict[str, Any],
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None,
    ) -> LLMResult:
        """Return the whole answer of one request made with `stream: false`."""
        answer = self._without_refusals(
            conn, path, payload, lambda sent: request(conn, "POST", path, json=sent)
        )
        body = json_object(answer)
        chat, json_answer = path == CHAT_PATH, wants_json(payload)
        content, tool_calls, reasoning = read_message(body, answer.url, chat, json_answer)
        text = content + "".join(call.function.arguments for call in tool_calls)
        carried = carried_reasoning(reasoning, tool_calls)  # for the turn after the tool call
        return LLMResult(
            model=model,
            message=AssistantPromptMessage(content=content, tool_calls=tool_calls, opaque_body=carried),
            usage=self._usage(model, credentials, llm, body.get("usage"), prompt_messages, tools, text),
        )

    def _stream(
        self,
        model: str,
        credentials: dict,
        llm: LLMSettings,
        conn: Connection,
        path: str,
        payload: dict[str, Any],
        prompt_messages: list[PromptMessage],
        tools: list[PromptMessageTool] | None,
    ) -> Generator[LLMResultChunk, None, None]:
        """Yield the answer's text as it arrives, then one chunk with tool calls, usage and finish reason."""
        try:
            asked = self._asked_tokens(llm, payload)
            answer = StreamedAnswer(conn.url(path), llm.chat, wants_json(payload), asked, llm.thinks_first)
            index = 0
            for event in self._events(conn, path, payload, llm.answer_seconds):
                text = answer.read(event)
                if text:
                    yield chunk(model, index, AssistantPromptMessage(content=text))
                    index += 1
            calls = answer.end()
            carried = carried_reasoning(answer.all_reasoning, calls)
            final = AssistantPromptMessage(content=answer.tail, tool_calls=calls, opaque_body=carried)
            last = chunk(model, index, final, answer.finish_reason)
            last.delta.usage = self._usage(
                model, credentials, llm, answer.usage, prompt_messages, tools, answer.text
            )
            yield last
        except InvokeError:
            raise
        except Exception as error:  # the SDK maps errors only until a stream starts
            raise self._transform_invoke_error(error) from error

    def _asked_tokens(self, llm: LLMSettings, payload: dict[str, Any]) -> int:
        """The most tokens this answer may have: max_tokens as sent (or max_completion_tokens,
        its name for servers that refuse it), else the model's limit."""
        asked = payload.get("max_tokens", payload.get("max_completion_tokens"))
        return asked if type(asked) is int and asked > 0 else llm.max_tokens

    def _usage(
        self,
        model: str,
        credentials: dict,
        llm: LLMSettings,
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
            prompt_tokens = self._estimate_prompt_tokens(llm, prompt_messages, tools)
        if type(completion_tokens) is not int or completion_tokens < 0:
            completion_tokens = estimate_tokens(answer)
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
        llm = self._settings(model, credentials)
        tokenizer = Tokenizer(Connection.of(credentials), llm.uid)
        if not llm.chat:
            counted = tokenizer.count(prompt_text(prompt_messages))
        else:
            messages = [wire_message(message, llm.input_audio) for message in prompt_messages]
            counted = tokenizer.count_chat(messages, wire_tools(tools) if tools else None)
        if counted is not None:
            return counted
        return self._estimate_prompt_tokens(llm, prompt_messages, tools)

    def _estimate_prompt_tokens(
        self, llm: LLMSettings, prompt_messages: list[PromptMessage], tools: list[PromptMessageTool] | None
    ) -> int:
        """The offline estimate of the prompt's tokens, the chat template's own tokens included."""
        texts = [message.get_text_content() for message in prompt_messages]
        for message in prompt_messages:
            if isinstance(message, AssistantPromptMessage):
                texts += [f"{c.function.name}({c.function.arguments})" for c in message.tool_calls]
        if tools:
            texts.append(json.dumps([tool.model_dump() for tool in tools], ensure_ascii=False))
        overhead = 0
        if llm.chat:
            overhead = TEMPLATE_TOKENS_PER_MESSAGE * len(prompt_messages) + TEMPLATE_TOKENS_PER_REPLY
        return estimate_tokens("\n".join(texts)) + overhead

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Return None if the server runs `model` as an LLM, else raise CredentialsValidateFailedError.

        What the server says about the model (its family's description: Xinference's, vLLM's,
        Ollama's...) is stored in `credentials`, which Dify keeps: mode, tool calling, vision,
        other inputs, thinking, structured output and context size, where the user's own answer
        does not win (detection.py). The form asks only for the rest.
        """
        uid = model_uid(credentials, model)
        with credential_check(credentials) as conn:  # all requests together within request_timeout
            wanted = extra_inputs(credentials, strict=True)  # after the fields' lengths are checked
            info = validate_model(conn, credentials, uid, "llm") or described_features(conn, uid)
        learn(credentials, info, wanted)

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """Return the model's schema: mode, context size, features and parameter rules."""
        llm = LLMSettings.of(model, credentials)
        mode = LLMMode.CHAT if llm.chat else LLMMode.COMPLETION
        return AIModelEntity(
            model=model,
            label=features.label(model, credentials),
            model_type=ModelType.LLM,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            features=model_features(credentials),
            model_properties={
                ModelPropertyKey.MODE: mode.value,
                ModelPropertyKey.CONTEXT_SIZE: llm.context_size,
            },
            parameter_rules=parameter_rules(llm, credentials),
        )
