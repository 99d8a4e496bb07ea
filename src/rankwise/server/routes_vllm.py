"""vLLM's score API: /score and /v1/score (`text_1` against `text_2`, or `queries` against `documents`: one
against one, one against many, or many pairs of equal count), answering `{data: [{index, object: "score",
score}], usage}` in the pairs' order. Pairs that share a query are scored as that query's list (a listwise
method ranks them together); different queries go to the micro-batcher together."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from rankwise.server.body import BoundedJsonRoute
from rankwise.server.engine import answered_in_time, chosen_model, on_inference_thread, scores_for
from rankwise.server.limits import (
    check_common,
    checked_texts,
    cut_to_tokens,
    fit_model_tokens,
    token_count,
    token_counter,
)
from rankwise.server.schemas import ERROR_RESPONSES, ScoreData, ScoreRequest, ScoreResponse, ScoreUsage
from rankwise.server.state import ApiError, ServiceState

router = APIRouter(tags=["score"], route_class=BoundedJsonRoute)


def score_pairs(body: ScoreRequest) -> tuple[list[str], list[str], tuple[str, str]]:
    """Each pair's first and second text, and the two fields' names, as vLLM pairs them."""
    given_texts = body.text_1 is not None and body.text_2 is not None
    given_queries = body.queries is not None and body.documents is not None
    mixed = (body.text_1 is not None or body.text_2 is not None) and (
        body.queries is not None or body.documents is not None
    )
    if given_texts == given_queries or mixed:
        raise ApiError(422, "a score body holds text_1 and text_2, or queries and documents (one pair of them)")
    names = ("text_1", "text_2") if given_texts else ("queries", "documents")
    first, second = (body.text_1, body.text_2) if given_texts else (body.queries, body.documents)
    assert first is not None and second is not None
    firsts = [first] if isinstance(first, str) else list(first)
    seconds = [second] if isinstance(second, str) else list(second)
    if not firsts or not seconds:
        raise ApiError(422, f"{names[0] if not firsts else names[1]} is empty", [names[0] if not firsts else names[1]])
    if len(firsts) == 1:
        firsts = firsts * len(seconds)
    elif len(seconds) == 1:  # many queries against one text: each scored alone
        seconds = seconds * len(firsts)
    elif len(firsts) != len(seconds):
        raise ApiError(
            422,
            f"{names[0]} has {len(firsts)} texts and {names[1]} {len(seconds)}: give one of either, or as many of each",
            [names[0]],
        )
    return firsts, seconds, names


async def score(body: ScoreRequest, request: Request) -> Response:
    service = request.app.state.service
    return await answered_in_time(service, request, _score(service, body, request))


async def _score(service: ServiceState, body: ScoreRequest, request: Request) -> Response:
    settings = service.settings
    firsts, seconds, (_, second_name) = score_pairs(body)
    check_common(settings, firsts[0], len(seconds), second_name)
    groups: dict[str, list[int]] = {}
    for i, query in enumerate(firsts):
        groups.setdefault(query, []).append(i)
    for query in groups:  # each distinct query once: a thousand pairs may share one
        check_common(settings, query, 1, second_name)
    texts = checked_texts(seconds, settings, second_name)
    target = chosen_model(service, request, body.model)
    reranker = target.ready_reranker(service)
    limit = body.truncate_prompt_tokens

    def fitted() -> tuple[list[str], int]:
        counter = token_counter(reranker)
        cut = list(texts)
        for query, members in groups.items():
            part = [cut[i] for i in members]
            if limit is not None and limit > 0:
                part = [cut_to_tokens(counter, text, limit) for text in part]
            elif limit == -1:
                part = fit_model_tokens(reranker, query, part, True, second_name)
            for i, text in zip(members, part):
                cut[i] = text
        return cut, sum(token_count(counter, q, [cut[i] for i in m]) for q, m in groups.items())

    texts, tokens = await on_inference_thread(target, request, fitted)
    scored = await asyncio.gather(
        *(
            scores_for(
                service, target, request, query, [texts[i] for i in members], second_name, instruction=body.instruction
            )
            for query, members in groups.items()
        )
    )
    values = [0.0] * len(texts)
    for members, result in zip(groups.values(), scored):
        chosen = result.scores if body.use_activation is False else result.relevance
        for i, value in zip(members, chosen):
            values[i] = value
    answer = ScoreResponse(
        id=f"score-{request.state.request_id}",
        created=int(time.time()),
        model=target.name,
        data=[ScoreData(index=i, score=v) for i, v in enumerate(values)],
        usage=ScoreUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
    return await run_in_threadpool(lambda: Response(answer.model_dump_json(), media_type="application/json"))


@router.post("/score", response_model=ScoreResponse, responses=ERROR_RESPONSES, summary="Score pairs (vLLM)")
async def score_root(body: ScoreRequest, request: Request) -> Response:
    return await score(body, request)


@router.post("/v1/score", response_model=ScoreResponse, responses=ERROR_RESPONSES, summary="Score pairs (vLLM)")
async def score_v1(body: ScoreRequest, request: Request) -> Response:
    return await score(body, request)
