{% set plan = cookiecutter | plan %}
"""Text embedding models on the server's OpenAI-style `POST /v1/embeddings`.

Texts get the query or document instruction prefix the model wants, are cut to the model's
context size (counted by the server's tokenizer where it has one), then sent `max_chunks` at a
time, one request per batch, `parallel_requests` batches at once. A model set up for images
(`embeds_images`) also embeds images, sent in the Jina/Xinference input shape. Connections,
auth and errors live in models/server/; shared features in models/features.py.
"""

import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

import gevent.pool
from dify_plugin import TextEmbeddingModel
from dify_plugin.entities.model import (
    AIModelEntity,
    EmbeddingInputType,
    FetchFrom,
    ModelFeature,
    ModelPropertyKey,
    ModelType,
    PriceType,
)
from dify_plugin.entities.model.text_embedding import (
    EmbeddingUsage,
    MultiModalContent,
    MultiModalEmbeddingResult,
    TextEmbeddingResult,
)
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeError,
    InvokeServerUnavailableError,
)

from models import features
from models.server import daemon
from models.server.connection import Connection, model_uid, positive_int
from models.server.errors import ErrorMapping, excerpt
from models.server.probes import credential_check, described_features, validate_model
from models.server.tokens import SPECIAL_TOKENS, Tokenizer, estimate_tokens, fit, refused_as_too_long
from models.server.transport import json_object, request
from models.server.vocabulary import FIELD, YES, Fault

EMBEDDINGS_PATH = "embeddings"
DEFAULT_CONTEXT_SIZE = 512
DEFAULT_MAX_CHUNKS = 32
# Batches sent at once: a server that works on several requests at once (several workers, a GPU
# batching requests) answers sooner; one that works on one at a time loses nothing, and each
# request waits at most for the others in flight, within its own request_timeout.
DEFAULT_PARALLEL_REQUESTS = 2
MAX_PARALLEL_REQUESTS = 8
Input = str | dict[str, str]  # a text, or a {"text": ...} or {"image": ...} item


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
        """Return one embedding per text, in the order of `texts`, and the tokens used."""
        context_size = self._get_context_size(model, credentials)
        tokenizer = Tokenizer(Connection.of(credentials), model_uid(credentials, model))
        inputs: list[Input] = [
            fit(instructed(text, credentials, input_type), context_size, tokenizer) for text in texts
        ]
        embeddings, tokens = self._embed_batches(model, credentials, inputs, tokenizer, context_size)
        return TextEmbeddingResult(
            model=model, embeddings=embeddings, usage=self._usage(model, credentials, tokens)
        )

    def _invoke_multimodal(
        self,
        model: str,
        credentials: dict,
        documents: list[MultiModalContent],
        user: str | None = None,
        input_type: EmbeddingInputType = EmbeddingInputType.DOCUMENT,
    ) -> MultiModalEmbeddingResult:
        """Return one embedding per text or image, in the order of `documents`, and the tokens used.

        Inputs go as {"text": ...} and {"image": data URI or URL} items (Jina, Xinference).
        """
        features.require_images(credentials, "embeds_images", documents)
        context_size = self._get_context_size(model, credentials)
        tokenizer = Tokenizer(Connection.of(credentials), model_uid(credentials, model))
        inputs: list[Input] = []
        for item in map(features.multimodal_item, documents):
            if "text" in item:
                text = instructed(item["text"], credentials, input_type)
                item["text"] = fit(text, context_size, tokenizer)
            inputs.append(item)
        embeddings, tokens = self._embed_batches(model, credentials, inputs, tokenizer, context_size)
        return MultiModalEmbeddingResult(
            model=model, embeddings=embeddings, usage=self._usage(model, credentials, tokens)
        )

    def _embed_batches(
        self, model: str, credentials: dict, inputs: list[Input], tokenizer: Tokenizer, limit: int
    ) -> tuple[list[list[float]], int]:
        """Embed `inputs` `max_chunks` at a time, `parallel_requests` batches at once; return the
        embeddings in order and the tokens used. `tokenizer` names the connection and the model."""
        max_chunks = max(1, self._get_max_chunks(model, credentials))
        batches = [inputs[start : start + max_chunks] for start in range(0, len(inputs), max_chunks)]
        answers = in_order(
            lambda batch: self._embed_shortening_once(batch, tokenizer, limit),
            batches,
            parallel_requests(credentials),
        )
        embeddings = [vector for vectors, _ in answers for vector in vectors]
        daemon.check_vectors(embeddings)
        return embeddings, sum(used for _, used in answers)

    def _embed_shortening_once(
        self, batch: list[Input], tokenizer: Tokenizer, limit: int
    ) -> tuple[list[list[float]], int]:
        """Embed one batch; if the server refuses an input as too long, shorten and retry once.

        The retry cuts each text to the limit the server named (else `limit`), counting with the
        server's tokenizer if it has one, else by UTF-8 bytes, a bound no tokenizer exceeds.
        """
        try:
            return self._embed(tokenizer.conn, tokenizer.uid, batch)
        except (InvokeBadRequestError, InvokeServerUnavailableError) as error:
            named = refused_as_too_long(error)
            if named is None:
                raise
            limit = min(limit, named) if named > SPECIAL_TOKENS else limit
            shorter = [features.shortened(item, limit, tokenizer) for item in batch]
            if shorter == batch:
                raise
            return self._embed(tokenizer.conn, tokenizer.uid, shorter)

    def _embed(self, conn: Connection, uid: str, batch: list[Input]) -> tuple[list[list[float]], int]:
        """Return the embeddings of one batch, in its order, and the tokens the server counted."""
        # ADAPT: this is the request the server receives and the answer read back. URLs, auth
        # and errors: models/server/.
        payload = {"model": uid, "input": batch}
        answer = request(conn, "POST", EMBEDDINGS_PATH, json=payload)
        body = json_object(answer)
        where = answer.url
        data = body.get("data")
        if not isinstance(data, list) or len(data) != len(batch):
            count = len(data) if isinstance(data, list) else "no"
            raise InvokeServerUnavailableError(
                f"{where} answered {count} embeddings for {len(batch)} texts: {excerpt(body)}"
            )
        vectors: list[list[float] | None] = [None] * len(batch)
        for position, item in enumerate(data):
            index = item.get("index", position) if isinstance(item, dict) else None
            vector = numbers(item.get("embedding")) if isinstance(item, dict) else None
            if type(index) is not int or not 0 <= index < len(batch) or vectors[index] is not None:
                raise InvokeServerUnavailableError(
                    f"{where} answered an embedding for no text of the batch: {excerpt(item)}"
                )
            if vector is None:
                raise InvokeServerUnavailableError(f"{where} answered a malformed embedding: {excerpt(item)}")
            vectors[index] = vector
        usage = body.get("usage")
        tokens = usage.get("total_tokens") if isinstance(usage, dict) else None
        if type(tokens) is not int or tokens < 0:
            texts = [item if isinstance(item, str) else item.get("text", "") for item in batch]
            tokens = sum(estimate_tokens(text) for text in texts)
        return daemon.compact(vectors), tokens  # type: ignore[arg-type]

    def _usage(self, model: str, credentials: dict, tokens: int) -> EmbeddingUsage:
        """Return the usage of `tokens` input tokens, priced as the model's schema says."""
        price = self.get_price(model, credentials, PriceType.INPUT, tokens)
        latency = time.perf_counter() - self.started_at if self.started_at else 0.0
        return EmbeddingUsage(
            tokens=tokens,
            total_tokens=tokens,
            unit_price=price.unit_price,
            price_unit=price.unit,
            total_price=price.total_amount,
            currency=price.currency,
            latency=latency,
        )

    def get_num_tokens(self, model: str, credentials: dict, texts: list[str]) -> list[int]:
        """Return each text's token count: the server's where it has a tokenizer, else estimated offline."""
        tokenizer = Tokenizer(Connection.of(credentials), model_uid(credentials, model))
        counts = []
        for text in texts:
            counted = tokenizer.count(text) if text else 0
            counts.append(counted if counted is not None else estimate_tokens(text))
        return counts

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError unless the server runs `model` as an embedding model.

        The model's input limit, when a server that names the model's type tells it (Xinference's
        `max_tokens`, LiteLLM's `max_input_tokens`), is stored in `credentials` as `context_size`,
        which Dify keeps; so is image support, when the
        server tells it (`embeds_images`), and so is the dimension of its embeddings (`dimension`),
        which bounds the texts sent at once (daemon.vectors_per_answer).
        """
        uid = model_uid(credentials, model)
        with credential_check(credentials) as conn:  # all requests together within request_timeout
            given = str(credentials.get("parallel_requests") or "").strip()  # its length is checked
            if given and not (given.isdigit() and 1 <= int(given) <= MAX_PARALLEL_REQUESTS):
                rule = f"must be a whole number from 1 to {MAX_PARALLEL_REQUESTS}"
                raise Fault(FIELD, field="parallel_requests", rule=rule).on(
                    CredentialsValidateFailedError(f"parallel_requests {rule}")
                )
            info = validate_model(conn, credentials, uid, "text-embedding")
            described = info or described_features(conn, uid)
            with suppress(InvokeError):  # else unknown: the texts per answer are bounded as for 8,192
                credentials["dimension"] = str(len(self._embed(conn, uid, ["dimension"])[0][0]))
        if described and described.model_type == "text-embedding" and described.context_size:
            # (llama.cpp's n_ctx, which names no type, is its server's context, not the model's limit)
            credentials["context_size"] = str(described.context_size)
        if described and described.images:
            credentials["embeds_images"] = YES

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """Return the model's schema: its context size, the texts sent per request, and vision if set."""
        context_size = positive_int(credentials.get("context_size"), DEFAULT_CONTEXT_SIZE)
        fitting = daemon.vectors_per_answer(positive_int(credentials.get("dimension"), 0))
        max_chunks = min(positive_int(credentials.get("max_chunks"), DEFAULT_MAX_CHUNKS), fitting)
        return AIModelEntity(
            model=model,
            label=features.label(model, credentials),
            model_type=ModelType.TEXT_EMBEDDING,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            features=[ModelFeature.VISION] if features.enabled(credentials, "embeds_images") else [],
            model_properties={
                ModelPropertyKey.CONTEXT_SIZE: context_size,
                ModelPropertyKey.MAX_CHUNKS: max_chunks,
            },
        )


def instructed(text: str, credentials: dict, input_type: EmbeddingInputType) -> str:
    """`text` after the model's instruction prefix for queries or for documents, if it has one.

    Models such as E5 or BGE want e.g. "query: " before a search query; a space is added after
    a prefix that does not end in one.
    """
    answer = "query_prefix" if input_type == EmbeddingInputType.QUERY else "document_prefix"
    prefix = str(credentials.get(answer) or "")
    if not prefix.strip():
        return text
    return prefix + text if prefix[-1].isspace() else f"{prefix} {text}"


def numbers(value: Any) -> list[float] | None:
    """`value` as a list of floats, or None if it is not a non-empty list of numbers."""
    if not isinstance(value, list) or not value:
        return None
    kinds = set(map(type, value))  # checked at C speed: a batch holds 100,000s of numbers
    if kinds == {float}:
        return value
    if not kinds <= {int, float}:
        return None
    return [float(x) for x in value]


def parallel_requests(credentials: Mapping[str, Any]) -> int:
    """How many batches to send at once: the credential, kept within 1..MAX_PARALLEL_REQUESTS."""
    wanted = positive_int(credentials.get("parallel_requests"), DEFAULT_PARALLEL_REQUESTS)
    return min(wanted, MAX_PARALLEL_REQUESTS)


def in_order[T, R](work: Callable[[T], R], items: list[T], at_once: int) -> list[R]:
    """`work(item)` for every item, at most `at_once` at a time, the results in the order of `items`.

    The first failure is raised as soon as it happens; work still running is stopped first and
    the items not started yet are never started.
    """
    if at_once <= 1 or len(items) <= 1:
        return [work(item) for item in items]

    def attempt(index: int) -> tuple[int, Any, Exception | None]:
        try:
            return index, work(items[index]), None
        except Exception as error:  # raised below, in the caller (gevent would print it as well)
            return index, None, error

    results: list[Any] = [None] * len(items)
    pool = gevent.pool.Pool(at_once)
    running = pool.imap_unordered(attempt, range(len(items)))
    try:
        for index, result, error in running:
            if error is not None:
                raise error
            results[index] = result
    finally:
        running.kill()  # it would start the next items as the pool frees up
        pool.kill()
    return results
