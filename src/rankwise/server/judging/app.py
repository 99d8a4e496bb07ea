"""`rankwise judge serve`: a judging page and a blind arena over the project's server stack (FastAPI, plain
HTML and a little JavaScript, no build step). Every judgment and vote is on disk before the page hears back
(`pipelines.judge.human`, `pipelines.judge.arena`).

- /judge: one query at a time, its passages with the query's terms highlighted, grades 0-3 from the
  keyboard, undo, progress, several named judges; the LLM's grade (from `rankwise judge` in the same folder)
  stays hidden until the person has judged the passage, or is shown on request;
- /arena: two rerankers' top lists side by side, anonymous and randomly swapped; the better list or a tie;
- /leaderboard: Bradley-Terry ratings over all votes with 95% bootstrap intervals;
- /export/qrels (?judge=NAME), /api/import: qrels out and in."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel

from rankwise.errors import InputError
from rankwise.pipelines.judge.arena import Votes, leaderboard
from rankwise.pipelines.judge.human import HumanJudgments
from rankwise.pipelines.judge.store import JudgmentStore
from rankwise.rerankers.base import BaseReranker
from rankwise.types import Request


class JudgmentIn(BaseModel):
    judge: str
    qid: str
    docid: str
    grade: int


class UndoIn(BaseModel):
    judge: str


class VoteIn(BaseModel):
    judge: str
    battle: str
    winner: str


class ImportIn(BaseModel):
    judge: str
    qrels: str


PAGES = ("judge", "arena", "leaderboard")


def asset(name: str) -> str:
    return resources.files("rankwise.server.judging").joinpath(f"pages/{name}").read_text(encoding="utf-8")


def page(name: str) -> str:
    return asset(f"{name}.html")


def create_judging_app(
    requests: Sequence[Request],
    folder: str | Path,
    arena: dict[str, BaseReranker] | None = None,
    top_k: int = 5,
    seed: int | None = None,
) -> FastAPI:
    folder = Path(folder)
    human = HumanJudgments(folder)
    llm = JudgmentStore(folder).qrels() if (folder / "judgments.jsonl").exists() else {}
    by_qid = {r.query.qid: r for r in requests}
    votes = Votes(folder)
    arena = arena or {}
    battles: dict[str, tuple[str, str, str]] = {}  # battle id -> (qid, left model, right model)
    rankings: dict[tuple[str, str], list[str]] = {}
    lock = threading.Lock()  # one reranker call at a time
    rng = random.Random(seed)
    app = FastAPI(title="rankwise judging", docs_url=None, redoc_url=None)

    @app.exception_handler(InputError)
    async def refused(request: Any, error: InputError) -> PlainTextResponse:
        return PlainTextResponse(str(error), status_code=422)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/judge")

    for name in PAGES:
        app.add_api_route(f"/{name}", lambda name=name: HTMLResponse(page(name)), include_in_schema=False)

    @app.get("/pages/common.js", include_in_schema=False)
    async def common_script() -> Response:
        return Response(asset("common.js"), media_type="application/javascript")

    @app.get("/pages/common.css", include_in_schema=False)
    async def common_style() -> Response:
        return Response(asset("common.css"), media_type="text/css")

    @app.get("/api/queries")
    async def queries(judge: str) -> list[dict[str, Any]]:
        grades = human.grades(judge)
        return [
            {
                "qid": r.query.qid,
                "query": r.query.text,
                "total": len(r.candidates),
                "judged": len(grades.get(r.query.qid, {})),
            }
            for r in requests
        ]

    @app.get("/api/query/{qid}")
    async def query(qid: str, judge: str) -> dict[str, Any]:
        request = by_qid.get(qid)
        if request is None:
            raise HTTPException(404, f"no query {qid!r}")
        mine = human.grades(judge).get(qid, {})
        suggestions = llm.get(qid, {})
        return {
            "qid": qid,
            "query": request.query.text,
            "passages": [
                {"docid": c.docid, "text": c.text, "grade": mine.get(c.docid), "suggestion": suggestions.get(c.docid)}
                for c in request.candidates
            ],
        }

    @app.post("/api/judgments")
    async def add_judgment(body: JudgmentIn) -> dict[str, Any]:
        request = by_qid.get(body.qid)
        if request is None or body.docid not in {c.docid for c in request.candidates}:
            raise HTTPException(404, f"no passage {body.docid!r} for query {body.qid!r}")
        human.judge(body.judge, body.qid, body.docid, body.grade)
        return {"saved": True, "judged": len(human.grades(body.judge).get(body.qid, {}))}

    @app.post("/api/undo")
    async def undo(body: UndoIn) -> dict[str, Any]:
        return {"undone": human.undo(body.judge)}

    @app.get("/export/qrels", response_class=PlainTextResponse)
    async def export(judge: str | None = None) -> str:
        return human.qrels_text(judge)

    @app.post("/api/import")
    async def import_qrels(body: ImportIn) -> dict[str, Any]:
        target = folder / f".import-{uuid.uuid4().hex}.qrels"
        target.write_text(body.qrels, encoding="utf-8")
        try:
            return {"imported": human.import_qrels(target, body.judge)}
        finally:
            target.unlink()

    def ranked(model: str, qid: str) -> list[str]:
        if (model, qid) not in rankings:
            with lock:
                ranking = arena[model].rerank_batch([by_qid[qid]], top_n=top_k)[0]
            rankings[(model, qid)] = [r.docid for r in ranking]
        return rankings[(model, qid)]

    @app.get("/api/battle")
    async def battle() -> dict[str, Any]:
        if len(arena) < 2:
            raise HTTPException(404, "no arena: start the server with --arena SPEC_A SPEC_B")
        qid = rng.choice(list(by_qid))
        left, right = rng.sample(sorted(arena), 2)
        battle_id = uuid.uuid4().hex
        battles[battle_id] = (qid, left, right)
        texts = {c.docid: c.text for c in by_qid[qid].candidates}
        return {
            "battle": battle_id,
            "qid": qid,
            "query": by_qid[qid].query.text,
            "left": [texts[d] for d in ranked(left, qid)],
            "right": [texts[d] for d in ranked(right, qid)],
        }

    @app.post("/api/vote")
    async def vote(body: VoteIn) -> dict[str, Any]:
        if body.battle not in battles:
            raise HTTPException(404, "unknown or already decided battle; load a new one")
        qid, left, right = battles.pop(body.battle)
        votes.vote(body.judge, qid, left, right, body.winner)
        return {"saved": True, "left": left, "right": right, "votes": len(votes.votes)}

    @app.get("/api/leaderboard")
    async def standings() -> list[dict[str, Any]]:
        models = sorted(arena) or sorted({m for v in votes.votes for m in (v["left"], v["right"])})
        return [s.__dict__ for s in leaderboard(votes.votes, models)]

    return app
