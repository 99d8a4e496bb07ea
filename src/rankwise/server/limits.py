"""The checks every rerank route shares, as pure functions of the settings and the request's texts: sizes,
encodability, and fitting texts to the model's tokens. Each raises an ApiError naming the field."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from rankwise.backends.interface import TokenCounting
from rankwise.cancellation import check_cancelled
from rankwise.rerankers.base import BaseReranker
from rankwise.server.state import ApiError, ServerSettings
from rankwise.server.visible import has_visible_text

MAX_METADATA_DEPTH = 32  # nesting a returned document's metadata may have; far deeper fails to serialize


def check_utf8(text: str, path: list[str]) -> None:
    """JSON can carry lone UTF-16 surrogates ("\\ud800") that no tokenizer can encode and no response can
    carry: a 422 naming the field, before any tokenizing, truncating or scoring."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ApiError(
            422, f"{field_label(path)} cannot be encoded as UTF-8: a lone surrogate at character {e.start}", path
        ) from None


def field_label(path: list[str]) -> str:
    """["documents", "0", "metadata"] as a client writes it: documents[0].metadata."""
    return path[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path[1:])


def check_returnable(value: object, path: list[str], max_values: int) -> None:
    """A document's `id`, `metadata` and other fields as they will be sent back: at most `max_values` values,
    nested at most MAX_METADATA_DEPTH levels, every string (keys too) UTF-8. Walked depth first with one
    iterator per level, so the walk holds O(depth) objects whatever the size of what it walks, and a value's
    path is only spelled out for an error."""
    counted = 0
    stack: list[tuple[Any, Iterator[tuple[Any, Any]]]] = [(None, iter([(None, value)]))]

    def here(key: Any) -> list[str]:
        return [*path, *(str(k) for k, _ in stack if k is not None), *([str(key)] if key is not None else [])]

    while stack:
        key, child = next(stack[-1][1], (_END, None))
        if key is _END:
            stack.pop()
            continue
        counted += 1
        if counted > max_values:
            raise ApiError(
                413,
                f"{field_label(path)} holds over {max_values} values (ids, metadata and other fields of one document)",
                path,
            )
        if isinstance(key, str) and not key.isascii():
            check_utf8(key, here(None))
        if isinstance(child, str):
            if not child.isascii():
                check_utf8(child, here(key))
        elif isinstance(child, (dict, list)):
            if len(stack) > MAX_METADATA_DEPTH:
                where = here(key)
                raise ApiError(
                    422, f"{field_label(where[:3])}... is nested deeper than {MAX_METADATA_DEPTH} levels", where[:3]
                )
            stack.append((key, iter(child.items() if isinstance(child, dict) else enumerate(child))))


_END = object()


def check_calibrated(body: Any, reranker: BaseReranker, threshold_field: str = "min_relevance") -> None:
    """A relevance threshold or a coverage means something only when the model is served with a calibration.
    `threshold_field` is what the threshold is called where it was sent (MCP says `min_probability`)."""
    for field_name in (threshold_field, "coverage"):
        if getattr(body, field_name, None) is not None and reranker.calibration is None:
            raise ApiError(
                422,
                f"{field_name} needs calibrated scores: serve the model with a calibration "
                "(-O calibration=FILE, from `rankwise calibrate`)",
                [field_name],
            )
    coverage = getattr(body, "coverage", None)
    if coverage is not None and not 0.0 < coverage < 1.0:
        raise ApiError(422, f"coverage must be in (0, 1), got {coverage}", ["coverage"])
    if coverage is not None and not reranker.calibration.depths:
        raise ApiError(
            422, "coverage needs a calibration with query depths (refit it with `rankwise calibrate`)", ["coverage"]
        )


def marked_feedback(reranker: BaseReranker, feedback: list[int] | None, names: list[str]) -> tuple[str, ...]:
    """The docids of the documents a request marked relevant (`feedback`, indices into them), for every
    route shape and MCP; a method that does not use feedback, or an index past the documents, is a 422."""
    if not feedback:
        return ()
    if not reranker.takes_feedback:
        raise ApiError(422, reranker.no_feedback(), ["feedback"])
    if min(feedback) < 0:
        raise ApiError(422, f"feedback index {min(feedback)} is negative", ["feedback"])
    if max(feedback) >= len(names):
        raise ApiError(422, f"feedback index {max(feedback)} is past the {len(names)} documents", ["feedback"])
    return tuple(dict.fromkeys(names[i] for i in feedback))


def budget_deadline(reranker: BaseReranker, latency_budget_ms: int | None, arrived: float) -> float | None:
    """The monotonic instant a request's escalating cascade stages must end by (`latency_budget_ms` from its
    arrival), for every route shape and MCP; a model that cannot trade quality for time is a 422."""
    if latency_budget_ms is None:
        return None
    if not reranker.takes_budget:
        raise ApiError(
            422,
            f"{reranker.method!r} over {reranker.model_label!r} cannot trade quality for time, so "
            "latency_budget_ms does not apply; it is for cascades whose stage after a calibrated one escalates "
            "only doubtful queries",
            ["latency_budget_ms"],
        )
    if latency_budget_ms < 0:
        raise ApiError(422, "latency_budget_ms must be >= 0", ["latency_budget_ms"])
    return arrived + latency_budget_ms / 1000.0


def check_common(settings: ServerSettings, query: str, count: int, field_name: str) -> None:
    """The query and the number of texts, for every route shape."""
    check_utf8(query, ["query"])
    if not query.strip():
        raise ApiError(422, "query is empty", ["query"])
    if not has_visible_text(query):
        raise ApiError(
            422,
            "query has no visible characters (only spaces, controls, format characters such "
            "as zero-width ones, or combining marks)",
            ["query"],
        )
    if len(query) > settings.max_query_chars:
        raise ApiError(
            413, f"query has {len(query)} characters, over the limit of {settings.max_query_chars}", ["query"]
        )
    if count > settings.max_documents:
        raise ApiError(413, f"{count} documents, over the limit of {settings.max_documents} per request", [field_name])
    if count > settings.max_queue_pairs:  # a 503 would invite retries that can never succeed
        raise ApiError(
            413,
            f"{count} documents can never fit the queue of {settings.max_queue_pairs} pairs; split the request",
            [field_name],
        )
    if count == 0:
        raise ApiError(422, f"{field_name} is empty", [field_name])


def check_text(text: str, field_name: str, index: int) -> None:
    check_utf8(text, [field_name, str(index)])
    if not text.strip():
        raise ApiError(422, f"{field_name}[{index}] is empty", [field_name, str(index)])
    if not has_visible_text(text):
        raise ApiError(
            422,
            f"{field_name}[{index}] has no visible characters (only spaces, controls, format "
            "characters such as zero-width ones, or combining marks)",
            [field_name, str(index)],
        )


def checked_texts(
    texts: Sequence[str], settings: ServerSettings, field_name: str, truncate: bool = True, hint: str = ""
) -> list[str]:
    """Each text checked (`check_text`) and, over the character limit, cut when `truncate`, else refused with
    a 413 that says how to ask for the cut (`hint`, in the dialect's own words)."""
    kept = []
    for i, text in enumerate(texts):
        check_text(text, field_name, i)
        if len(text) > settings.max_document_chars and not truncate:
            raise ApiError(
                413,
                f"{field_name}[{i}] has {len(text)} characters, over the limit of {settings.max_document_chars} "
                f"({hint})",
                [field_name, str(i)],
            )
        kept.append(text[: settings.max_document_chars])
    return kept


def checked_documents(
    documents: Sequence[tuple[str, dict[str, Any] | None]], settings: ServerSettings, field_name: str = "documents"
) -> list[str]:
    """Each document's text, cut to the character limit, after the checks that name a bad field; a document
    given as an object also has the fields that go back with it (id, metadata, ...) checked before any work."""
    texts = checked_texts([text for text, _ in documents], settings, field_name)
    for i, (_, returned) in enumerate(documents):
        if returned is not None:
            check_returnable(returned, [field_name, str(i)], settings.max_metadata_values)
    return texts


def unique_ids(ids: Sequence[str | None]) -> list[str] | None:
    """The documents' own ids when every document has one and no two share it (a forward index served with
    the model is looked up by them); otherwise None, and the candidates are named by position."""
    if any(i is None for i in ids) or len(set(ids)) < len(ids):
        return None
    return [str(i) for i in ids]


def token_counter(reranker: BaseReranker | None) -> TokenCounting | None:
    """The model's tokenizer, when the reranker is loaded and its backend counts tokens."""
    return reranker.token_counter if reranker is not None else None


def token_count(counter: TokenCounting | None, query: str, texts: list[str]) -> int:
    """Model tokens of the query and every text (Jina's `usage.total_tokens`); whitespace words for a
    backend without a local tokenizer."""
    if counter is None:
        return len(query.split()) + sum(len(t.split()) for t in texts)
    return sum(token_counts(counter, [query, *texts]))


TOKENIZE_CHUNK = 32  # texts tokenized between two cancellation checks


def token_counts(counter: TokenCounting, texts: list[str]) -> list[int]:
    """Each text's model tokens, counted a chunk at a time so that a request's deadline can stop it between
    chunks."""
    counts: list[int] = []
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        check_cancelled()
        counts += counter.count_tokens(texts[start : start + TOKENIZE_CHUNK])
    return counts


def cut_to_tokens(counter: TokenCounting | None, text: str, max_tokens: int) -> str:
    if counter is None:
        return " ".join(text.split()[:max_tokens])
    return counter.cut_to_tokens(text, max_tokens)


PAIR_SPECIAL_TOKENS = 3  # [CLS] query [SEP] text [SEP]: what a pair input adds around the two texts


def fit_model_tokens(
    reranker: BaseReranker | None,
    query: str,
    texts: list[str],
    truncate: bool,
    field_name: str = "texts",
    hint: str = "send truncate=true to cut it",
) -> list[str]:
    """TEI's rule, in model tokens: a (query, text) input over the model's limit is 413 unless `truncate`,
    which cuts the text to fit. Only for methods that score each text on its own with a token limit."""
    counter = token_counter(reranker)
    limit = getattr(counter, "max_length", None)
    if counter is None or limit is None or not reranker.independent_candidates:
        return texts
    query_tokens = counter.count_tokens([query])[0]
    room = limit - query_tokens - PAIR_SPECIAL_TOKENS
    if room < 1:
        raise ApiError(
            413, f"query has {query_tokens} tokens, leaving no room in the model's limit of {limit}", ["query"]
        )
    fitted = []
    for i, (text, tokens) in enumerate(zip(texts, token_counts(counter, texts))):
        if tokens > room:
            if not truncate:
                raise ApiError(
                    413,
                    f"{field_name}[{i}] has {tokens} tokens; with the query's {query_tokens} that is over "
                    f"the model's limit of {limit} ({hint})",
                    [field_name, str(i)],
                )
            text = counter.cut_to_tokens(text, room)
        fitted.append(text)
    return fitted
