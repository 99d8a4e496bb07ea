"""Every registered method through the service with one, two and no documents (issue 37 item 4: FIRST with
one document was a 500): one or two documents are a 200 with every document ranked, an empty list the
documented 422 (Cohere's API refuses it too), never a 500. Real small models: MiniLM, SmolLM2-135M, and
the tiny seeded T5, ColBERT, MiniCPM-layerwise and cross-encoder folders the fidelity tests use."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import tiny_models
from rankwise import Reranker
from rankwise.backends.registry import locate, open_backend, runtime_options
from rankwise.rerankers.registry import METHODS, method_class
from rankwise.server import ServerSettings, create_app
from server_helpers import threaded_server

REFERENCE = Path(__file__).parent / "reference"
SMOLLM = "smollm2-135m"
# method -> (model, options); a callable model builds its folder in the test's temporary directory.
SPECS = {
    "embedding": ("minilm-embed", {}),
    "embedding-prf": ("minilm-embed", {}),
    "feedback-knn": ("minilm-embed", {}),
    "maxsim": ("minilm-embed", {}),
    "e2rank": ("minilm-embed", {}),
    "fast-forward": ("minilm-embed", {}),
    "fusion": ("minilm-fusion-dl21", {}),
    "cross-encoder": (lambda tmp: tiny_models.cross_encoder(tmp / "ce")[0], {}),
    "llm-pointwise": (SMOLLM, {}),
    "query-likelihood": (SMOLLM, {}),
    "first": (SMOLLM, {}),
    "listwise-generate": (SMOLLM, {"window": 2, "stride": 1}),  # a 2-id answer to generate, not a 20-id one
    "prp": (SMOLLM, {}),
    "sparse-pairwise": (SMOLLM, {"comparisons": 4, "top_k": 4}),
    "setwise": (SMOLLM, {}),
    "icr": (SMOLLM, {}),
    "jointrank": (SMOLLM, {"block_size": 2}),
    "seq2seq-pointwise": (lambda tmp: tiny_models.t5(tmp / "t5"), {"preset": "monot5"}),
    "seq2seq-pairwise": (lambda tmp: tiny_models.t5(tmp / "t5"), {"preset": "duot5"}),
    "colbert": (lambda tmp: REFERENCE / "colbert_ai_tiny_colbert", {}),
    "fid-listwise": (lambda tmp: REFERENCE / "lit5_tiny_t5", {"preset": "lit5"}),
    "listt5": (lambda tmp: REFERENCE / "listt5_tiny_fidt5", {"preset": "listt5"}),
    "mvp": (lambda tmp: REFERENCE / "mvp_tiny", {"preset": "mvp"}),
    "pe-rank": (lambda tmp: tiny_models.pe_rank_checkpoint(tmp / "pe"), {}),
    "reasoning-pointwise": (SMOLLM, {"reasoning_budget": 4}),
    "reasoning-listwise": (SMOLLM, {"reasoning_budget": 4, "window": 2, "stride": 1}),
    "reasoning-setwise": (SMOLLM, {"reasoning_budget": 4}),
    "graded-pointwise": (SMOLLM, {}),
    "groupwise": (SMOLLM, {"group_size": 2, "max_passage_tokens": 32}),
    "layerwise-pointwise": (lambda tmp: tiny_models.reference_copy("minicpm_layerwise_tiny", tmp / "lw"), {}),
}
DOCUMENTS = ["Adult fleas live for two to three months on a host.", "Sourdough starters need daily feeding."]


def test_every_registered_method_is_listed_here():
    assert set(SPECS) == set(METHODS)


@pytest.fixture(scope="module")
def smollm():
    """One SmolLM2 backend that every method over it shares (a load each would cost minutes)."""
    methods = [m for m, (model, _) in SPECS.items() if model == SMOLLM and m != "jointrank"]
    requires = frozenset().union(*(method_class(m).requires for m in methods))
    return open_backend(locate(SMOLLM, None), runtime_options(), requires, "test")


@pytest.mark.parametrize("method", sorted(SPECS))
def test_one_two_and_no_documents(method, tmp_path, smollm):
    model, options = SPECS[method]
    if model == SMOLLM and method != "jointrank":  # jointrank opens its block ranker itself
        reranker = method_class(method).build(smollm, SMOLLM, **options)
        reranker.token_counter = smollm
    else:
        location = str(model(tmp_path)) if callable(model) else model
        reranker = Reranker.load(location, method=method, **options)
    with threaded_server(create_app(reranker, ServerSettings(model_name=method))) as base:
        for count in (1, 2):
            documents = DOCUMENTS[:count]
            if method == "fast-forward":  # it interpolates with the first stage's scores: sent with each document
                documents = [{"text": text, "score": 10.0 - i} for i, text in enumerate(documents)]
            cohere = httpx.post(
                f"{base}/v1/rerank", json={"query": "how long do fleas live", "documents": documents}, timeout=300
            )
            assert cohere.status_code == 200, (count, cohere.text[:300])
            assert sorted(r["index"] for r in cohere.json()["results"]) == list(range(count))
            tei = httpx.post(
                f"{base}/rerank", json={"query": "how long do fleas live", "texts": DOCUMENTS[:count]}, timeout=300
            )
            if method == "fast-forward":  # TEI's shape has no first-stage scores: refused, saying why
                assert tei.status_code == 422 and "first stage's scores" in tei.json()["error"]
                continue
            assert tei.status_code == 200, (count, tei.text[:300])
            assert sorted(r["index"] for r in tei.json()) == list(range(count))
        for route, field_name in (("/v1/rerank", "documents"), ("/rerank", "texts")):
            empty = httpx.post(f"{base}{route}", json={"query": "fleas", field_name: []}, timeout=60)
            assert empty.status_code == 422 and empty.json()["error"] == f"{field_name} is empty", empty.text
