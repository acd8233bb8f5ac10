"""A chat as OpenAI-style servers read it: messages, content parts and tool definitions, and the
reasoning that goes back with a tool call."""

import re
from typing import Any

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
from dify_plugin.errors.model import InvokeBadRequestError

# Reasoning from earlier turns, as this plugin shows it; sent back only with a tool call (below).
THINK_BLOCK = re.compile(r"<think>(.*?)</think>\s*", re.DOTALL)
# Where an answer that calls tools keeps its reasoning for the next turn: the SDK's opaque_body,
# which Dify hands back with the assistant message.
REASONING = "reasoning_content"


def carried_reasoning(reasoning: str, tool_calls: list[Any]) -> dict[str, str] | None:
    """The opaque_body of an answer that calls tools: its reasoning, for the turn that follows."""
    return {REASONING: reasoning.strip()} if tool_calls and reasoning.strip() else None


def reasoning_of(message: AssistantPromptMessage) -> str:
    """The reasoning behind an earlier tool call: carried in opaque_body, else shown in <think>."""
    body = message.opaque_body
    if isinstance(body, dict) and isinstance(body.get(REASONING), str):
        return body[REASONING]
    shown = THINK_BLOCK.search(message.get_text_content())
    return shown.group(1).strip() if shown else ""


def prompt_text(prompt_messages: list[PromptMessage]) -> str:
    """The prompt of a completion request (mode "completion"): the messages' texts, one paragraph each."""
    return "\n\n".join(text for m in prompt_messages if (text := m.get_text_content()))


def wire_tools(tools: list[PromptMessageTool]) -> list[dict[str, Any]]:
    """The tool definitions, as the chat request's `tools`."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def wire_message(message: PromptMessage, input_audio: bool = False) -> dict[str, Any]:
    """Return one prompt message in the chat completions format."""
    if isinstance(message, ToolPromptMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.get_text_content()}
    if isinstance(message, AssistantPromptMessage):
        wire: dict[str, Any] = {
            "role": "assistant",
            "content": THINK_BLOCK.sub("", message.get_text_content()),
        }
        if message.tool_calls:
            # DeepSeek, Kimi K2 and GLM chat templates read the reasoning behind a tool call back.
            if reasoning := reasoning_of(message):
                wire[REASONING] = reasoning
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
    return {"role": role, "content": wire_content(message.content, input_audio)}


def wire_content(content: Any, input_audio: bool = False) -> str | list[dict[str, Any]]:
    """Return plain text, or a list of content parts when there are images, audio, video or documents."""
    if not isinstance(content, list):
        return content or ""
    if all(isinstance(part, TextPromptMessageContent) for part in content):
        return "".join(part.data for part in content)
    return [wire_part(part, input_audio) for part in content]


def wire_part(part: Any, input_audio: bool = False) -> dict[str, Any]:
    """Return one content part in the shape OpenAI-style servers accept.

    Images, video and audio go as URL parts (a data URI when Dify sends the file itself), as
    Xinference and vLLM take them; audio goes as `input_audio` to servers that want that
    (`input_audio`: llama.cpp, detected at validation). Documents go as OpenAI's `file` part.
    """
    if isinstance(part, TextPromptMessageContent):
        return {"type": "text", "text": part.data}
    if isinstance(part, ImagePromptMessageContent):
        return {"type": "image_url", "image_url": {"url": part.data, "detail": part.detail.value}}
    if isinstance(part, VideoPromptMessageContent):
        return {"type": "video_url", "video_url": {"url": part.data}}
    if isinstance(part, AudioPromptMessageContent):
        if input_audio and part.base64_data:
            return {"type": "input_audio", "input_audio": {"data": part.base64_data, "format": part.format}}
        return {"type": "audio_url", "audio_url": {"url": part.data}}
    if isinstance(part, DocumentPromptMessageContent):
        return {"type": "file", "file": {"filename": part.filename or "document", "file_data": part.data}}
    raise InvokeBadRequestError(f"this plugin cannot send {type(part).__name__} content")
