"""Reading an OpenAI-style chat or completion answer: whole, or streamed event by event.

Reasoning (`reasoning_content`, or left in the text: thinking.py) is shown before the answer in
<think> tags, unless the answer must be JSON, and kept for a turn that calls tools; tool calls
streamed in pieces are merged; a stream that runs far past max_tokens is ended, and one that
stops without `[DONE]` or a finish_reason was cut.
"""

import json
import uuid
from typing import Any

from dify_plugin.entities.model.llm import LLMResultChunk, LLMResultChunkDelta
from dify_plugin.entities.model.message import AssistantPromptMessage
from dify_plugin.errors.model import InvokeConnectionError, InvokeServerUnavailableError

from models.llm.thinking import ThinkTags, lone_close
from models.server.errors import excerpt
from models.server.events import DONE
from models.server.tokens import estimate_tokens

# A stream is ended with an error once it runs this far past max_tokens (estimated tokens of
# text and tool calls, or events of any kind): a server that never stops cannot fill the memory.
OVERRUN_FACTOR = 4
OVERRUN_SLACK = 64
ToolCall = AssistantPromptMessage.ToolCall


def read_message(
    body: dict[str, Any], where: str, chat: bool, json_answer: bool
) -> tuple[str, list[ToolCall], str]:
    """The text (reasoning first, in <think> tags), the tool calls and the reasoning of a whole answer."""
    # ADAPT: the answer read back. A server with another answer shape is read here and in StreamedAnswer.read.
    choice = first_choice(body, where)
    if choice is None:
        raise InvokeServerUnavailableError(f"{where} answered without any choice: {excerpt(body)}")
    message = choice.get("message") if chat else {"content": choice.get("text")}
    if not isinstance(message, dict):
        raise InvokeServerUnavailableError(f"{where} answered a choice without a message: {excerpt(body)}")
    content = text_of(message.get("content"))
    reasoning = text_of(message.get("reasoning_content") or message.get("reasoning"))
    tags = ThinkTags(opened=not reasoning and lone_close(content), show=not json_answer)
    content = tags.feed(content) + tags.end()
    if reasoning and not json_answer:  # a JSON answer stays parseable as it is
        content = f"<think>\n{reasoning}\n</think>\n{content}"
    raw_calls = message.get("tool_calls")
    tool_calls = [
        tool_call(call.get("id"), call.get("function"))
        for call in (raw_calls if isinstance(raw_calls, list) else [])
        if isinstance(call, dict)
    ]
    return content, tool_calls, reasoning or "".join(tags.reasoning)


class StreamedAnswer:
    """An answer streamed in events: its text as it comes, then its tool calls, finish reason and usage."""

    def __init__(self, where: str, chat: bool, json_answer: bool, asked: int, thinks: bool = False) -> None:
        self.where, self.chat, self.json_answer, self.asked = where, chat, json_answer, asked
        self.tags = ThinkTags(opened=thinks, show=not json_answer)  # reasoning left in the text
        self.reasoning: list[str] = []  # reasoning the server sent apart
        self.done = False  # the stream ended with [DONE]
        self.tail = ""  # the text the end of the stream adds
        self.overrun = OVERRUN_FACTOR * asked + OVERRUN_SLACK
        self.events = 0
        self.produced = 0  # estimated tokens of text and tool calls so far
        self.usage: Any = None
        self.finish_reason: str | None = None
        self.thinking = False
        self.calls = ToolCallBuffer()
        self.texts: list[str] = []

    def read(self, event: dict[str, Any]) -> str:
        """The text `event` adds to the answer ("" if none)."""
        self.events += 1
        if self.events > self.overrun or self.produced > self.overrun:
            raise InvokeServerUnavailableError(
                f"{self.where} kept streaming far past max_tokens = {self.asked} (about {self.produced} tokens "
                f"in {self.events} events), so the answer was ended"
            )
        # ADAPT: a streamed answer read back, event by event (read_message reads a whole one).
        if event is DONE:
            self.done = True
            return ""
        self.usage = event.get("usage") or self.usage
        choice = first_choice(event, self.where)
        if choice is None:
            return ""  # e.g. the last event, which carries only the usage
        delta = (choice.get("delta") or {}) if self.chat else {"content": choice.get("text")}
        if not isinstance(delta, dict):
            raise InvokeServerUnavailableError(
                f"{self.where} streamed a choice without a delta: {excerpt(event)}"
            )
        self.finish_reason = text_of(choice.get("finish_reason")) or self.finish_reason
        text = ""
        reasoning = text_of(delta.get("reasoning_content") or delta.get("reasoning"))
        if reasoning:
            self.reasoning.append(reasoning)
            self.tags.no_opening()  # the server parses reasoning out: the text starts with the answer
        if reasoning and not self.json_answer:
            text = reasoning if self.thinking else f"<think>\n{reasoning}"
            self.thinking = True
        content = text_of(delta.get("content"))
        if self.thinking and (content or delta.get("tool_calls") or self.finish_reason):
            text += "\n</think>\n"
            self.thinking = False
        text += self.tags.feed(content) if content else ""
        self.produced += estimate_tokens(text) + self.calls.add(delta.get("tool_calls"))
        if text:
            self.texts.append(text)
        return text

    def end(self) -> list[ToolCall]:
        """The tool calls, once the stream has ended (and in `tail`, the text still held back);
        InvokeConnectionError if it ended unfinished: without a finish_reason nor `[DONE]`.

        Older LocalAI and Ollama releases, and some gateways, end with `[DONE]` alone.
        """
        if self.finish_reason is None and not self.done:
            raise InvokeConnectionError(
                f"{self.where} ended the stream before the answer was finished (no finish_reason, "
                "no [DONE]): the connection was probably cut"
            )
        tool_calls = self.calls.tool_calls()
        self.finish_reason = self.finish_reason or ("tool_calls" if tool_calls else "stop")
        self.tail = ("\n</think>\n" if self.thinking else "") + self.tags.end()
        self.thinking = False
        self.texts.extend([self.tail, *(call.function.arguments for call in tool_calls)])
        return tool_calls

    @property
    def all_reasoning(self) -> str:
        """The reasoning of the answer, sent apart or left in its text."""
        return "".join(self.reasoning) or "".join(self.tags.reasoning)

    @property
    def text(self) -> str:
        """Everything answered so far, tool call arguments included (for the usage estimate)."""
        return "".join(self.texts)


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
            tokens += estimate_tokens(arguments) + 1
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

    def tool_calls(self) -> list[ToolCall]:
        """Return the complete calls, in the order they started."""
        return [tool_call(c["id"], {"name": c["name"], "arguments": c["arguments"]}) for c in self._calls]


def first_choice(body: dict[str, Any], where: str) -> dict[str, Any] | None:
    """Return the first choice of an answer or stream event, or None if it has none."""
    choices = body.get("choices")
    if not choices:
        return None
    if not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise InvokeServerUnavailableError(
            f"{where} answered choices of an unexpected shape: {excerpt(body)}"
        )
    return choices[0]


def tool_call(call_id: Any, function: Any) -> ToolCall:
    """Return Dify's tool call; servers that give no id get a generated one."""
    function = function if isinstance(function, dict) else {}
    arguments = function.get("arguments")
    return ToolCall(
        id=str(call_id or f"call_{uuid.uuid4().hex[:24]}"),
        type="function",
        function=ToolCall.ToolCallFunction(
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
