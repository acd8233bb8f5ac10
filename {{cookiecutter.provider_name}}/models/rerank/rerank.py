{% set plan = cookiecutter | plan %}
"""Rerank models on the server's `POST /v1/rerank` (Xinference, Jina and Cohere style).

A model set up for images (`reranks_images`) also ranks images, sent in the Jina input shape.
Connections, auth and errors live in models/server/; shared features in models/features.py.
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any

from dify_plugin import RerankModel
from dify_plugin.entities.model import AIModelEntity, FetchFrom, ModelFeature, ModelType
from dify_plugin.entities.model.rerank import MultiModalRerankResult, RerankDocument, RerankResult
from dify_plugin.entities.model.text_embedding import MultiModalContent, MultiModalContentType
from dify_plugin.errors.model import InvokeBadRequestError, InvokeServerUnavailableError

from models import features
from models.server import daemon
from models.server.bodies import Answer
from models.server.connection import Connection, model_uid
from models.server.errors import ErrorMapping, excerpt
from models.server.probes import credential_check, described_features, validate_model
from models.server.tokens import SPECIAL_TOKENS, Tokenizer, refused_as_too_long
from models.server.transport import json_object, request
from models.server.vocabulary import YES

RERANK_PATH = "rerank"


class {{ plan.class_name("rerank") }}(ErrorMapping, RerankModel):
    """Rerank models served by the {{ plan.provider }} server."""

    def _invoke(
        self,
        model: str,
        credentials: dict,
        query: str,
        docs: list[str],
        score_threshold: float | None = None,
        top_n: int | None = None,
        user: str | None = None,
    ) -> RerankResult:
        """Return `docs` scored against `query`, best first, without those under `score_threshold`."""
        ranked = self._rank(model, credentials, query, docs, docs, score_threshold, top_n)
        return RerankResult(model=model, docs=ranked)

    def _invoke_multimodal(
        self,
        model: str,
        credentials: dict,
        query: MultiModalContent,
        docs: Sequence[MultiModalContent],
        score_threshold: float | None = None,
        top_n: int | None = None,
        user: str | None = None,
    ) -> MultiModalRerankResult:
        """Return texts and images scored against a text or image query, as `_invoke` does.

        Each document goes as {"text": ...} or {"image": data URI or URL} (Jina's shape); a
        text query as a string, an image query as {"image": ...}.
        """
        features.require_images(credentials, "reranks_images", [query, *docs])
        text_query = query.content_type == MultiModalContentType.TEXT
        wire_query = query.content if text_query else features.multimodal_item(query)
        documents = [features.multimodal_item(doc) for doc in docs]
        texts = [doc.content for doc in docs]
        ranked = self._rank(model, credentials, wire_query, documents, texts, score_threshold, top_n)
        return MultiModalRerankResult(model=model, docs=ranked)

    def _rank(
        self,
        model: str,
        credentials: dict,
        query: str | dict[str, str],
        documents: list[str] | list[dict[str, str]],
        docs: Sequence[str],
        score_threshold: float | None,
        top_n: int | None,
    ) -> list[RerankDocument]:
        """Return `docs` (sent as `documents`) best first, without those under `score_threshold`.

        At most `top_n` documents are returned. Scores are the server's own, not normalised; a
        result without a usable score counts as 0.0, so it is kept (ranked by that score) unless
        `score_threshold` is above 0.
        """
        if not documents:
            return []
        limit = top_n if top_n and top_n > 0 else len(docs)
        # ADAPT: this is the request the server receives and the answer read back. URLs, auth
        # and errors: models/server/.
        payload = {
            "model": model_uid(credentials, model),
            "query": query,
            "documents": documents,
            "top_n": limit,
            "return_documents": False,
        }
        answer = self._post_shortening_once(Connection.of(credentials), payload)
        body = json_object(answer)
        where = answer.url
        results = body.get("results")
        if not isinstance(results, list):
            raise InvokeServerUnavailableError(f"{where} answered without a list of results: {excerpt(body)}")
        ranked = []
        for result in results:
            index = result.get("index") if isinstance(result, dict) else None
            if type(index) is not int or not 0 <= index < len(docs):
                raise InvokeServerUnavailableError(
                    f"{where} answered a result for none of the {len(docs)} documents: {excerpt(result)}"
                )
            ranked.append(RerankDocument(index=index, text=docs[index], score=score_of(result)))
        ranked.sort(key=lambda doc: (-doc.score, doc.index))
        if score_threshold is not None:
            ranked = [doc for doc in ranked if doc.score >= score_threshold]
        return daemon.best_that_fit(ranked[:limit], lambda doc: doc.text)  # one answer holds them

    def _post_shortening_once(self, conn: Connection, payload: dict[str, Any]) -> Answer:
        """POST the rerank request; if the server refuses a document as too long, cut them and retry once.

        Query and document must fit the model together: each document is cut to the limit the
        server named less the query's tokens (the server's count where it has a tokenizer).
        """
        try:
            return request(conn, "POST", RERANK_PATH, json=payload)
        except (InvokeBadRequestError, InvokeServerUnavailableError) as error:
            limit = refused_as_too_long(error)
            if limit is None:
                raise
            tokenizer = Tokenizer(conn, payload["model"])
            query = payload["query"]
            query = query if isinstance(query, str) else query.get("text", "")  # an image: no text
            used = tokenizer.count(query) or len(query.encode("utf-8")) + SPECIAL_TOKENS
            room = max(SPECIAL_TOKENS + 1, limit - used)
            docs = [features.shortened(doc, room, tokenizer) for doc in payload["documents"]]
            if docs == payload["documents"]:
                raise
            return request(conn, "POST", RERANK_PATH, json={**payload, "documents": docs})

    def validate_credentials(self, model: str, credentials: dict) -> None:
        """Raise CredentialsValidateFailedError unless the server runs `model` as a rerank model.

        Image support, when the server tells it, is stored in `credentials` (`reranks_images`).
        """
        uid = model_uid(credentials, model)
        with credential_check(credentials) as conn:  # all requests together within request_timeout
            described = validate_model(conn, credentials, uid, "rerank") or described_features(conn, uid)
        if described and described.images:
            credentials["reranks_images"] = YES

    def get_customizable_model_schema(self, model: str, credentials: Mapping) -> AIModelEntity:
        """Return the model's schema: no properties, and vision if it ranks images."""
        return AIModelEntity(
            model=model,
            label=features.label(model, credentials),
            model_type=ModelType.RERANK,
            fetch_from=FetchFrom.CUSTOMIZABLE_MODEL,
            features=[ModelFeature.VISION] if features.enabled(credentials, "reranks_images") else [],
            model_properties={},
        )


def score_of(result: dict[str, Any]) -> float:
    """The result's relevance score: a number or a numeric string; 0.0 if missing or not a number."""
    try:
        score = float(result.get("relevance_score"))
    except (TypeError, ValueError):
        return 0.0
    return score if math.isfinite(score) else 0.0
