"""Writes lit5_tiny_t5/ (a seeded tiny T5 from tests/tiny_models.py, committed: about 60 KB) and
rank_llm_0.26.0_lit5.json: what rank-llm 0.26.0's LiT5 code (RankFiDDistill: its prompts, FiD model and
generation) gives on it, which tests/test_seq2seq.py compares with rankwise's fid-listwise.

rank-llm 0.26 declares Python >= 3.12, but this code runs on 3.11 without its dependencies. Regenerate:

    pip install --no-deps --ignore-requires-python --target /tmp/rank_llm rank-llm==0.26.0
    pip install --no-deps --target /tmp/rank_llm ftfy dacite wcwidth
    PYTHONPATH=/tmp/rank_llm:tests python tests/reference/rank_llm_lit5.py
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

from rank_llm.data import Candidate, Query, Request, Result
from rank_llm.rerank.listwise.rank_fid import RankFiDDistill

import tiny_models

HERE = Path(__file__).parent
FOLDER = HERE / "lit5_tiny_t5"
OUT = HERE / "rank_llm_0.26.0_lit5.json"
QUERY = "how long do fleas live"
PASSAGES = [
    "An adult flea lives two to three months, true to its kind.",
    "Sourdough needs feeding daily.",
    "The flea market sells records.",
    "Flea pupae can stay dormant for up to a year, which is false comfort for owners who want them gone",
    "Query: the flea [2] of the document",
    "Relevance of a passage to a query",
]
WINDOW, STRIDE, CONTEXT = 4, 2, 24  # small windows and a 24-token context, so truncation and sliding both act


def main() -> None:
    if FOLDER.exists():
        shutil.rmtree(FOLDER)
    # identifier pieces favoured, so that the tiny model answers with identifiers and the order moves
    tiny_models.t5(FOLDER, model_max_length=512, favoured=tuple(f"▁[{i}]" for i in range(1, 7)) + ("▁>",))
    ranker = RankFiDDistill(
        str(FOLDER), context_size=CONTEXT, window_size=WINDOW, stride=STRIDE, precision="float32", device="cpu"
    )
    candidates = [Candidate(docid=f"d{i}", score=1.0 - i / 10, doc={"contents": p}) for i, p in enumerate(PASSAGES)]
    first = Result(query=Query(text=QUERY, qid="q1"), candidates=candidates[:WINDOW])
    prompts, _ = ranker.create_prompt(first, 0, WINDOW)
    response, _ = ranker.run_llm(prompts)
    reranked = ranker.rerank_batch(
        [Request(query=Query(text=QUERY, qid="q1"), candidates=candidates)],
        rank_start=0,
        rank_end=len(PASSAGES),
        window_size=WINDOW,
        step=STRIDE,
    )[0]
    OUT.write_text(
        json.dumps(
            {
                "library": "rank-llm 0.26.0 (installed: " + metadata.version("rank-llm") + ")",
                "query": QUERY,
                "passages": PASSAGES,
                "window": WINDOW,
                "stride": STRIDE,
                "context_size": CONTEXT,
                "first_window_sources": [p["text"] for p in prompts],
                "first_window_response": response,
                "final_order": [c.docid for c in reranked.candidates],
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {FOLDER} and {OUT}")


if __name__ == "__main__":
    main()
