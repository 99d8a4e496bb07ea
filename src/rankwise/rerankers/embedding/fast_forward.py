"""Fast-Forward interpolation (Leonhardt et al., "Efficient Neural Ranking using Forward Indexes", WWW 2022):
score = alpha * first-stage score + (1 - alpha) * cosine(query, passage), with passage vectors from a
forward index (`index=DIR`) or encoded on the fly, as `fast_forward.Ranking.interpolate` computes it
(raw scores, no normalization).

Early stopping (`early_stop_k`): candidates are scored in first-stage order up to depths that are multiples
of `early_stop_step` (the first at least k), and scoring stops once no remaining candidate can enter the top
k. `exact` bounds an unscored candidate by the next first-stage score and a cosine of 1, so the top k equal
full scoring's; `observed` is the paper's estimate as `fast-forward-indexes` 0.8 computes it (the last scored
first-stage score and the largest dense score seen so far; a tie stops), which stops sooner and may differ.
Candidates never scored follow the top k in first-stage order, with the interpolation of their first-stage
score and a cosine of -1 (a lower bound, below the top k); the trace counts the lookups saved.

The default alpha (0.01, on BM25's scale) was chosen on TREC DL 2021 (BM25 top-100, MiniLM cosine; never DL
2019) with `benchmarks/fast_forward_alpha.py`: nDCG@10 BM25 0.4458, cosine alone 0.5785, 5-fold
cross-validated interpolation 0.5811; alphas 0.01 to 0.03 all give 0.584 to 0.586, and from 0.05 on it
falls (0.5700 at 0.05, 0.4643 at 0.5). With this encoder, interpolation adds little over the cosine.
Another first stage or encoder needs its own alpha."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rankwise.backends.interface import Capability, Embedder
from rankwise.errors import InputError
from rankwise.models.registry import TEXT_ENCODER
from rankwise.options import option
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.embedding.bi_encoder import EmbeddingOptions
from rankwise.rerankers.embedding.passage_vectors import PassageVectors, Provenance, prefix_for
from rankwise.types import Ranking, Request, ScoreKind


@dataclass(frozen=True)
class FastForwardOptions(EmbeddingOptions):
    alpha: float = option(
        0.01, minimum=0, maximum=1, help="weight of the first-stage score (BM25 scale); 1 - alpha: cosine"
    )
    early_stop_k: int = option(0, minimum=0, help="stop once no unscored candidate can enter the top k (0: off)")
    early_stop_step: int = option(10, minimum=1, help="candidates scored between early-stopping checks")
    early_stop_bound: Literal["exact", "observed"] = option(
        "exact", help="exact: the cosine's bound 1 (same top k as full scoring); observed: the paper's estimate"
    )


class FastForwardReranker(BaseReranker):
    model_kinds = (TEXT_ENCODER,)
    method = "fast-forward"
    requires = frozenset({Capability.EMBED})
    Options = FastForwardOptions
    score_kind = ScoreKind.UNBOUNDED  # a BM25-scale score plus a cosine

    def __init__(self, encoder: Embedder, model_label: str, options: FastForwardOptions):
        super().__init__(model_label)
        self.encoder = encoder
        self.query_prefix = prefix_for(encoder, "query", options.query_prefix)
        self.passages = PassageVectors(
            encoder, model_label, prefix_for(encoder, "document", options.passage_prefix), options.index
        )
        self.alpha, self.early_stop_k = options.alpha, options.early_stop_k
        self.early_stop_step, self.early_stop_bound = options.early_stop_step, options.early_stop_bound

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        import numpy as np

        for request in requests:
            unscored = [c.docid for c in request.candidates if c.score is None]
            if unscored:
                raise InputError(
                    f"fast-forward interpolates with the first stage's scores; candidate "
                    f"{unscored[0]!r} of query {request.query.qid!r} has none"
                )
        queries = self.encoder.embed_unit([self.query_prefix + r.query.text for r in requests])
        rankings = []
        for request, query in zip(requests, queries):
            sparse = np.array([c.score for c in request.candidates], dtype=np.float64)
            order = np.argsort(-sparse, kind="stable")
            n, k = len(order), self.early_stop_k
            step = self.early_stop_step
            scored = n if k == 0 else min(n, -(-k // step) * step)  # depths are multiples of the step, as in the paper
            dense_seen: list[float] = []
            encoded: list[int] = []
            stale: list[int] = []
            while True:
                done = len(dense_seen)
                vectors, provenance = self.passages.pooled([request.candidates[i] for i in order[done:scored]])
                dense_seen += (vectors @ query).astype(np.float64).tolist()
                encoded += [done + i for i in provenance.missing]
                stale += [done + i for i in provenance.stale]
                if scored == n:
                    break
                interpolated = self.alpha * sparse[order[:scored]] + (1 - self.alpha) * np.array(dense_seen)
                kth = np.sort(interpolated)[-k]
                if self.early_stop_bound == "exact":
                    # No unscored candidate's sparse score exceeds the next one's, nor its cosine 1.
                    if kth > self.alpha * sparse[order[scored]] + (1 - self.alpha):
                        break
                # fast_forward.Index._early_stopping: the last scored sparse score and the best dense score
                # seen bound the rest, and a tie stops.
                elif kth >= self.alpha * sparse[order[scored - 1]] + (1 - self.alpha) * max(dense_seen):
                    break
                scored = min(n, scored + step)
            scores = self.alpha * sparse + (1 - self.alpha) * -1.0
            scores[order[:scored]] = self.alpha * sparse[order[:scored]] + (1 - self.alpha) * np.array(dense_seen)
            trace: dict[str, Any] = {
                "alpha": self.alpha,
                **Provenance(self.passages.index, encoded, stale).trace(0, scored),
            }
            if k:
                trace["early_stopping"] = {
                    "k": k,
                    "scored": scored,
                    "lookups_saved": n - scored,
                    "bound": self.early_stop_bound,
                }
            rankings.append(Ranking.from_scores(request, scores.tolist(), trace=trace))
        return rankings

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "alpha": self.alpha,
            "early_stop_k": self.early_stop_k,
            **self.passages.describe(),
        }
