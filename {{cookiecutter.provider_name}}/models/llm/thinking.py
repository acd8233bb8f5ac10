"""Reasoning in the answer's text, as Dify shows it: inside one `<think>...</think>` pair.

Models that reason write it before their answer. A server with a reasoning parser sends it
apart (`reasoning_content`, see answers.py); without one it stays in the text, and a model
whose chat template already opened the tag (DeepSeek R1 distills, QwQ, thinking-only Qwen3)
writes only the closing `</think>`: everything before it is reasoning. `ThinkTags` repairs
that, also when a tag arrives split across stream events, so that Dify never gets a lone tag.

Streamed, the plugin cannot look ahead: it opens the tag itself at the start of the answer
when the model is set up as always thinking (`thinking` "always"); a lone `</think>` that
arrives anyway becomes a paragraph break. Whole answers are repaired exactly.
"""

OPEN, CLOSE = "<think>", "</think>"


def lone_close(text: str) -> bool:
    """Whether `text` closes a reasoning block it never opened."""
    close = text.find(CLOSE)
    return close >= 0 and OPEN not in text[:close]


class ThinkTags:
    """Text fed piece by piece comes out with its reasoning in one well-formed `<think>` block
    (or without the reasoning, for an answer that must be bare JSON); the reasoning is kept."""

    def __init__(self, opened: bool, show: bool = True) -> None:
        self.opened = opened  # the chat template opened the tag: the text starts inside it
        self.show = show
        self.started = False  # whether the start of the text is decided
        self.inside = False
        self.held = ""  # the end of the last piece, which may be the start of a tag
        self.passed = False  # whether any text was passed on
        self.reasoning: list[str] = []

    def no_opening(self) -> None:
        """The server sent the reasoning apart: the text will not start inside a block."""
        self.opened = False

    def feed(self, text: str) -> str:
        """The part of the text so far that can be passed on."""
        return self._scan(text, final=False)

    def end(self) -> str:
        """The rest, once the text is complete: a block left open is closed."""
        out = self._scan("", final=True)
        if self.inside:
            self.inside = False
            out += f"\n{CLOSE}\n" if self.show else ""
        return out

    def _scan(self, text: str, final: bool) -> str:
        text, self.held = self.held + text, ""
        out: list[str] = []
        if not self.started:
            if final and not text.strip():
                self.started = True
                return text  # an empty answer stays empty
            stripped = text.lstrip()
            if not final and len(stripped) < len(OPEN) and OPEN.startswith(stripped):
                self.held = text  # maybe the start of <think>
                return ""
            self.started = True
            if stripped.startswith(OPEN):
                text = stripped[len(OPEN) :]
                self._open(out)
            elif self.opened:
                self._open(out, "\n")
        while text:
            tag, at = self._next_tag(text)
            if tag is None:
                keep = 0 if final else _partial_tag(text)
                self._emit(text[: len(text) - keep], out)
                self.held = text[len(text) - keep :]
                break
            self._emit(text[:at], out)
            text = text[at + len(tag) :]
            if tag == OPEN:
                self._open(out)
            elif self.inside:
                self.inside = False
                out.append(CLOSE if self.show else "")
            elif self.passed:
                out.append("\n\n")  # a lone closing tag: what came before was already passed on
        return "".join(out)

    def _next_tag(self, text: str) -> tuple[str | None, int]:
        found = [(at, tag) for tag in (OPEN, CLOSE) if (at := text.find(tag)) >= 0]
        if self.inside:  # a nested <think> is left as it is
            found = [(at, tag) for at, tag in found if tag == CLOSE]
        return (min(found)[1], min(found)[0]) if found else (None, -1)

    def _open(self, out: list[str], after: str = "") -> None:
        self.inside = True
        if self.show:
            out.append(OPEN + after)

    def _emit(self, text: str, out: list[str]) -> None:
        if self.inside:
            self.reasoning.append(text)
            if not self.show:
                return
        self.passed = self.passed or bool(text)
        out.append(text)


def _partial_tag(text: str) -> int:
    """How many characters at the end of `text` could start a tag that the next piece finishes."""
    for size in range(min(len(CLOSE) - 1, len(text)), 0, -1):
        tail = text[-size:]
        if OPEN.startswith(tail) or CLOSE.startswith(tail):
            return size
    return 0
