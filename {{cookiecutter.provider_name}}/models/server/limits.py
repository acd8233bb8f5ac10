"""Every bound this plugin keeps to, in one place: time, memory and connections.

No import here: a tool can read them without loading the SDK. The code reads them as
`limits.NAME` when it runs, so a test can lower one with monkeypatch.
"""

# -- time ---------------------------------------------------------------------------------------
DEFAULT_TIMEOUT = 60.0  # request_timeout when the credentials give none (the form's default too)
# request_timeout is kept within these seconds. 600: the Dify daemon ends any call after its
# PLUGIN_MAX_EXECUTION_TIMEOUT, 600 s by default (dify-plugin-daemon internal/types/app/default.go),
# and Dify's API waits as long for the daemon (PLUGIN_DAEMON_TIMEOUT); main.py allows the silence.
TIMEOUT_RANGE = (1.0, 600.0)
CONNECT_TIMEOUT = 10.0  # the longest wait for a connection (request_timeout if that is shorter)
DEFAULT_RETRIES = 2
MAX_RETRIES = 3  # max_retries is kept within 0..3; waits between attempts: 0, 0.5 and 1 s
# A stream is closed, also on the server, once it has lasted answer_seconds (the form's field,
# DEFAULT_ANSWER_SECONDS unless given, at most STREAM_LIMIT): Dify's Stop button ends the reading
# in Dify, never the plugin's stream (DEVELOPMENT.md). 600: the daemon gives up on any call after
# PLUGIN_MAX_EXECUTION_TIMEOUT, 600 s by default; an operator who raised it may raise this too.
DEFAULT_ANSWER_SECONDS = 600.0
# The longest answer (tokens) when the form's max_tokens is empty (its default too); also sent when
# an app sets none, so that an answer nobody reads any more ends on the server.
DEFAULT_ANSWER_TOKENS = 4096
STREAM_LIMIT = 1800.0  # no stream lasts longer, however often the server sends
TOKENIZER_BUDGET = 10.0  # seconds one plugin call may spend asking the server to count tokens

# -- memory -------------------------------------------------------------------------------------
MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # one answer, after decompression
MAX_LINE_BYTES = 1024 * 1024  # one line of a stream
READ_AHEAD_BYTES = 64 * 1024  # of a stream, received and not handled yet (see bodies.read_ahead)
INFLATE_BYTES = 64 * 1024  # inflated at once from a compressed answer
ERROR_BODY_BYTES = 64 * 1024  # what is read of an error answer to find its message
DETAIL_LIMIT = 300  # characters of a server's error message kept in ours
KNOWN_TOKENIZERS = 256  # (connection, model, endpoint) answers remembered at most
REMEMBERED_CONNECTIONS = 256  # (connection, model) whose refused optional fields are remembered
# How long an answer about a server is remembered (models/server/memory.py says why it is not forever).
REFUSAL_MEMORY = 600.0  # seconds an optional field a server refused is left out before it is tried again
TOKENIZER_MEMORY = 600.0  # seconds a server's answer about its tokenizer endpoint is trusted

# -- requests -----------------------------------------------------------------------------------
# extra_headers together, as sent ("name: value" and CRLF each): nginx's default
# large_client_header_buffers (4 8k) refuses one header line above 8 KiB, and uvicorn (h11) a
# request head above 16 KiB; this leaves room for the plugin's own headers.
MAX_EXTRA_HEADER_BYTES = 8 * 1024

# -- credentials --------------------------------------------------------------------------------
# The most characters a credential field may hold, and why; a longer answer is refused by name
# (models/server/connection.py) before anything is sent or kept. Each pool, secret form and
# memory entry below holds one credential set, so these also bound what those keep.
NUMBER_CHARS = 32  # a number or a select's value: far more than any of them needs
FIELD_CHARS: dict[str, tuple[int, str]] = {
    "server_url": (2048, "the URL length servers, proxies and browsers all accept"),
    "api_key": (4096, "with its header name, one header line within nginx's 8 KiB"),
    "extra_headers": (16384, "the JSON text; the headers as sent are kept within 8 KiB"),
    "ca_bundle": (4096, "Linux's PATH_MAX for a file path"),
    "model_uid": (256, "a model's id: Hugging Face's owner/name ids stay well within it"),
    "display_name": (256, "a name to show"),
    "extra_inputs": (256, "a few of audio, video, document"),
    "query_prefix": (1024, "an instruction of a sentence or two"),
    "document_prefix": (1024, "an instruction of a sentence or two"),
    "language": (NUMBER_CHARS, "an ISO-639-1 code"),
    "initial_prompt": (2048, "words to expect: speech models read a few hundred tokens of it"),
    "voices": (4096, "a list of voice names"),
}
OTHER_FIELD_CHARS = 4096  # any other field: numbers, selects and what validation stores
NUMBER_FIELDS = (
    "routes_at_root",
    "tls_verify",
    "request_timeout",
    "max_retries",
    "mode",
    "context_size",
    "max_tokens",
    "answer_seconds",
    "max_chunks",
    "parallel_requests",
    "chars_per_request",
    "audio_format",
)
FIELD_CHARS |= {name: (NUMBER_CHARS, "a number or a choice") for name in NUMBER_FIELDS}

# -- connections --------------------------------------------------------------------------------
MAX_CLIENTS = 32  # connection pools kept, one per distinct connection settings
POOL_IDLE = 600.0  # seconds a pool no call has used is kept: then it is closed, its key and sockets with it
MAX_CONNECTIONS = 512  # per pool: the SDK serves up to 1,000 requests at once
KEEPALIVE = 8  # idle connections kept open per pool
# Idle connections are dropped sooner than servers drop them (llama.cpp's and uvicorn's 5 s):
# a request sent on a connection the server is closing fails with "Server disconnected".
KEEPALIVE_EXPIRY = 2.0
