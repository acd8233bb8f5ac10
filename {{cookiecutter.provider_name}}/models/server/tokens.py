"""Token counts: the server's own tokenizer where it has one (families.TOKENIZERS), else an
offline estimate; and inputs cut to fit a model's limit."""

import math
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
from dify_plugin.errors.model import InvokeBadRequestError, InvokeError

from models.server import daemon, families, limits
from models.server.connection import Connection
from models.server.memory import Memory
from models.server.probes import NO_SUCH_ENDPOINT
from models.server.transport import request

# Whether a server has a family's tokenizer endpoint, by (connection, model, family, path): asked
# once, not on every call; a refusal too (a 4xx: the endpoint is not there, or takes another body).
# Bounded in size and time (models/server/memory.py says why).
TOKENIZERS: Memory[tuple[Connection, str, str, str], bool] = Memory(
    limits.KNOWN_TOKENIZERS, limits.TOKENIZER_MEMORY
)


class Tokenizer:
    """Counts tokens with the server's own tokenizer for one model, within a time budget.

    Whether the server has the endpoint is remembered per connection (URL, key, timeouts),
    model and family, so a server without it (or one that takes another family's body there) is
    asked once in a while, not on every call. Every method returns None when the server has no
    tokenizer, fails, or the budget is spent: callers then estimate.
    """

    def __init__(self, conn: Connection, uid: str, budget: float | None = None) -> None:
        self.conn = conn
        self.uid = uid
        self.deadline = time.monotonic() + (limits.TOKENIZER_BUDGET if budget is None else budget)

    def count(self, text: str) -> int | None:
        """The tokens the server turns `text` into, special tokens (BOS, [CLS]...) included."""
        return self._first("count_request", "read_count", text)

    def count_chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int | None:
        """The tokens of a chat (and its tools) as the model's chat template renders it: the
        rendered prompt counted, or the chat counted where the server renders it itself."""
        prompt = self.chat_prompt(messages, tools)
        if prompt is not None:
            return self.count(prompt)
        return self._first("chat_count_request", "read_count", messages, tools)

    def chat_prompt(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str | None:
        """The prompt the server makes of a chat with its chat template."""
        return self._first("template_request", "read_prompt", messages, tools)

    def _first(self, request: str, read: str, *args: Any) -> Any:
        """The first answer of the TOKENIZERS that make `request`, as their `read` reads it."""
        for family in families.TOKENIZERS:
            if hasattr(family, request):
                found = self._ask(family, *getattr(family, request)(self.uid, *args), getattr(family, read))
                if found is not None:
                    return found
        return None

    def _ask[T](
        self, family: Any, path: str, payload: dict[str, Any], read: Callable[[Any], T | None]
    ) -> T | None:
        key = (self.conn, self.uid, family.NAME, path)
        left = self.deadline - time.monotonic()
        if TOKENIZERS.get(key) is False or left <= 0:
            return None
        limit = (left, f"the {limits.TOKENIZER_BUDGET:g} s for counting tokens")
        try:
            answer = request(self.conn, "POST", path, limit=limit, allowed=NO_SUCH_ENDPOINT, json=payload)
        except InvokeBadRequestError:
            TOKENIZERS.put(key, False)  # refused: this server takes another body there
            return None
        except InvokeError:
            return None  # not remembered: a timeout or a failing server may answer next time
        found = read(answer.json()) if answer.status < 400 else None
        TOKENIZERS.put(key, found is not None)
        return found


# -- Inputs that fit the model: cut by the server's tokenizer, else by estimate or UTF-8 length --

SPECIAL_TOKENS = 2  # room for the markers a model adds around each text ([CLS] ... [SEP], BOS/EOS)
CHARS_PER_TOKEN_MAX = 16  # no tokenizer packs more characters into a token on average
FIT_ROUNDS = 4  # server token counts per text, at most, while cutting it to fit
SURROGATE = re.compile("[\ud800-\udfff]")
# How servers refuse an input longer than the model takes (llama.cpp, vLLM, TEI, Ollama), and
# the limit some of them name in that message.
TOO_LONG = re.compile(
    r"too (large|long)|maximum context length|exceeds the (context|maximum|max)|must have less than \d+ tokens",
    re.I,
)
SERVER_LIMIT = re.compile(r"(?:batch size|context length is|less than)\D{0,10}(\d+)", re.I)
DEFAULT_INPUT_LIMIT = 512  # tokens, when a server refuses an input as too long without naming its limit


def refused_as_too_long(error: InvokeError) -> int | None:
    """The input limit (tokens) if `error` is a server refusing an input as too long, else None."""
    message = str(error)
    if not TOO_LONG.search(message):
        return None
    named = SERVER_LIMIT.search(message)
    return int(named.group(1)) if named else DEFAULT_INPUT_LIMIT


def fit(text: str, limit: int, tokenizer: Tokenizer, strict: bool = False) -> str:
    """Return the start of `text` that the model takes whole: at most `limit` tokens.

    With the server's tokenizer the count is exact (special tokens included) and the cut is
    refined in at most FIT_ROUNDS counts. Without it, the offline estimate decides, leaving room
    for special tokens; with `strict`, the UTF-8 length does, which no tokenizer's count exceeds.
    """
    text = whole_characters(text)
    if len(text) + SPECIAL_TOKENS <= limit and len(text.encode("utf-8")) + SPECIAL_TOKENS <= limit:
        return text  # fits whatever the tokenizer: no need to ask the server
    head = text[: limit * CHARS_PER_TOKEN_MAX]
    counted = tokenizer.count(head)
    for _ in range(FIT_ROUNDS):
        if counted is None:
            break
        if counted <= limit:
            return head
        head = head[: max(1, int(len(head) * limit / counted * 0.97))]
        counted = tokenizer.count(head)
    if counted is not None and counted <= limit:
        return head
    if strict or counted is not None:
        return head.encode("utf-8")[: max(1, limit - SPECIAL_TOKENS)].decode("utf-8", "ignore")
    return truncate(head, limit - SPECIAL_TOKENS)


def whole_characters(text: str) -> str:
    """`text` with surrogate pairs joined (and lone surrogates replaced), so it can be cut and sent as UTF-8."""
    if text.isascii() or not any(SURROGATE.search(part) for part in _slices(text, SCAN_SLICE)):
        return text
    return "".join(
        part.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        for part in _slices(text, SCAN_SLICE)
    )


def truncate(text: str, limit: int) -> str:
    """Return the longest start of `text` estimated at no more than `limit` tokens, in one pass."""
    text = whole_characters(text)
    if limit < 1:
        return ""
    count, offset = 0.0, 0
    for part in _slices(text, daemon.LOOP_SLICE):
        for match in TOKEN_PIECES.finditer(part):
            piece = match.group()
            cost = _cost(piece)
            if math.ceil(count + cost) > limit:
                return text[: offset + match.start() + _fitting(piece, limit - count)]
            count += cost
        offset += len(part)
    return text


def _slices(text: str, size: int) -> Iterator[str]:
    """`text` in consecutive slices of about `size` characters, yielding to the event loop between
    them: a slice ends after a space where one is near (no token piece is split) and never
    between the two halves of a surrogate pair."""
    start = 0
    while start < len(text):
        end = start + size
        if end < len(text):
            space = text.rfind(" ", end - size // 4, end)
            end = space + 1 if space >= 0 else end + ("\ud800" <= text[end - 1] <= "\udbff")
        yield text[start:end]
        start = end
        if start < len(text):
            gevent.sleep(0)


# Pieces a tokenizer splits text at: letter runs, digit runs, line breaks, spaces, one other
# character (CJK, accents, emoji) or one punctuation mark.
TOKEN_PIECES = re.compile(r"[A-Za-z]+|[0-9]+|\n\s*|[ \t]+|[^\x00-\x7f]|[^\sA-Za-z0-9]")
LETTERS_PER_TOKEN = 6  # a word of up to 6 letters is one token; longer ones split
TOKENS_PER_DIGIT = 0.75  # digits go one by one (BPE) or in short groups (WordPiece)
# Bounded time: a text up to ESTIMATE_WHOLE characters is counted piece by piece, a longer one
# from ESTIMATE_SAMPLES evenly spaced windows that add up to ESTIMATE_WHOLE characters; either
# way the loop is yielded every LOOP_SLICE characters (models/server/daemon.py).
ESTIMATE_WHOLE = 262_144
ESTIMATE_SAMPLES = 64
SCAN_SLICE = 1 << 20  # characters searched at once for surrogates (C speed: about 5 ms)


def estimate_tokens(text: str) -> int:
    """An offline token estimate, for when the server has no tokenizer to ask.

    Measured against SmolLM2's byte-level BPE and MiniLM's WordPiece (docs/real-servers.md): within
    ±30% on prose, code, hex IDs, URLs and tables; one token per CJK character, which is right for
    WordPiece and multilingual vocabularies but about half of what English-only ones use. The
    SDK's GPT-2 estimate downloads its tokenizer on first use, which fails offline. A text over
    ESTIMATE_WHOLE characters is estimated from samples, so that 50 MB take as long as 256 kB.
    """
    if not text:
        return 0
    if len(text) <= ESTIMATE_WHOLE:
        count = sum(
            _cost(piece) for part in _slices(text, daemon.LOOP_SLICE) for piece in TOKEN_PIECES.findall(part)
        )
    else:
        window = ESTIMATE_WHOLE // ESTIMATE_SAMPLES
        step = (len(text) - window) / (ESTIMATE_SAMPLES - 1)
        sampled = 0.0
        for sample in range(ESTIMATE_SAMPLES):
            start = round(sample * step)
            sampled += sum(map(_cost, TOKEN_PIECES.findall(text, start, start + window)))
            gevent.sleep(0)
        count = sampled * len(text) / (window * ESTIMATE_SAMPLES)
    return max(1, math.ceil(count))


def _cost(piece: str) -> float:
    """The tokens one piece of TOKEN_PIECES counts for."""
    first = piece[0]
    if first.isascii() and first.isalpha():
        return math.ceil(len(piece) / LETTERS_PER_TOKEN)
    if first.isdigit():
        return len(piece) * TOKENS_PER_DIGIT
    return 0 if first in " \t" else 1  # spaces; a line break, a mark, or a non-ASCII character


def _fitting(piece: str, left: float) -> int:
    """How many characters of `piece` fit in `left` tokens (a piece of letters or digits can be cut)."""
    first = piece[0]
    if first.isascii() and first.isalpha():
        return min(len(piece), int(left) * LETTERS_PER_TOKEN)
    if first.isdigit():
        return min(len(piece), int(left / TOKENS_PER_DIGIT))
    return 0
