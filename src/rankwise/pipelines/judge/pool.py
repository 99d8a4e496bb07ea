"""Which pairs to judge, as TREC builds pools: the union of the top `depth` of several runs, per query,
limited to the candidates the input file holds (their texts are what the judge reads)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rankwise.errors import InputError
from rankwise.io import read_run
from rankwise.pipelines.judge.llm_judge import Pair
from rankwise.types import Request


def pooled_pairs(
    requests: Sequence[Request],
    runs: Sequence[str | Path] = (),
    depth: int = 10,
    skip: set[tuple[str, str]] | None = None,
) -> tuple[list[Pair], dict[str, int]]:
    """The pairs to judge and counts of what was left out (already judged, pooled but not in the input).
    Without runs, every candidate of the input is a pair."""
    if depth < 1:
        raise InputError(f"--depth must be at least 1, got {depth}")
    skip = skip or set()
    pool: dict[str, set[str]] | None = None
    if runs:
        pool = {}
        for path in runs:
            for qid, scores in read_run(path).items():
                top = sorted(scores, key=lambda d: (-scores[d], d))[:depth]
                pool.setdefault(qid, set()).update(top)
    pairs, counts = [], {"already_judged": 0, "pooled_not_in_input": 0}
    for request in requests:
        wanted = pool.get(request.query.qid, set()) if pool is not None else None
        present = {c.docid for c in request.candidates}
        if wanted is not None:
            counts["pooled_not_in_input"] += len(wanted - present)
        for candidate in request.candidates:
            if wanted is not None and candidate.docid not in wanted:
                continue
            if (request.query.qid, candidate.docid) in skip:
                counts["already_judged"] += 1
                continue
            pairs.append(Pair(request.query.qid, request.query.text, candidate.docid, candidate.text))
    return pairs, counts
