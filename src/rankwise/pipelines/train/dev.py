"""Evaluation during training (`--dev`), one definition for every trainer: which dev queries count, the
nDCG@10 they give, and the evaluator a sentence-transformers trainer calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rankwise.errors import InputError
from rankwise.pipelines.train.data import QueryGroup


@dataclass
class DevEvaluation:
    """Evaluation during training (`--dev`): nDCG@10 on the dev queries every `every` optimizer steps
    (relevant: grade >= `relevance_level`, binary gains, each query's passages reranked, queries without
    both a relevant and another passage left out); the best checkpoint is the model kept, and with
    `patience` the run stops after that many evaluations without a better one. Cross-encoders and
    bi-encoders are measured by sentence-transformers' reranking evaluators; other students (MaxSim,
    FIRST) by `ndcg`, which computes the same figure with ir-measures over any scoring function."""

    groups: Sequence[QueryGroup] = field(default_factory=list)
    every: int = 50
    patience: int = 0
    relevance_level: int = 2

    def samples(self) -> list[tuple[QueryGroup, list[str], list[str]]]:
        """(group, relevant texts, other texts) of each query that can be measured."""
        samples = []
        for group in self.groups:
            relevant = [d.text for d in group.docs if d.grade is not None and d.grade >= self.relevance_level]
            others = [d.text for d in group.docs if d.grade is None or d.grade < self.relevance_level]
            if relevant and others:
                samples.append((group, relevant, others))
        if not samples:
            raise InputError(
                f"--dev: no dev query has both a passage graded >= {self.relevance_level} and another "
                "passage, so nDCG@10 cannot be measured"
            )
        return samples

    def ndcg(self, score: Callable[[str, list[str]], Sequence[float]]) -> float:
        """Mean nDCG@10 when `score(query, passages)` orders each query's passages, given in the group's
        own (first-stage) order: a listwise model reads that order, so it must not hint at the answer."""
        import ir_measures

        qrels, run = [], []
        for index, (group, _, _) in enumerate(self.samples()):
            qid = f"{index}:{group.qid}"
            scores = list(score(group.query, [d.text for d in group.docs]))
            for position, (doc, value) in enumerate(zip(group.docs, scores)):
                docid = str(position)
                relevant = doc.grade is not None and doc.grade >= self.relevance_level
                qrels.append(ir_measures.Qrel(qid, docid, int(relevant)))
                # ir-measures breaks ties by docid; the small offset keeps list order among equal scores.
                run.append(ir_measures.ScoredDoc(qid, docid, float(value) - position * 1e-9))
        return float(ir_measures.calc_aggregate([ir_measures.nDCG @ 10], qrels, run)[ir_measures.nDCG @ 10])

    def evaluator(
        self, cross_encoder: bool, score: Callable[[Any, str, list[str]], Sequence[float]] | None = None
    ) -> Any:
        """The trainer's evaluator: sentence-transformers' own for a cross-encoder or a bi-encoder, or with
        `score(model, query, passages)` one that measures `ndcg` with the model being trained."""
        if score is not None:
            return _ScoredDevEvaluator(self, score)
        samples = [(group.query, relevant, others) for group, relevant, others in self.samples()]
        if cross_encoder:
            from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator

            return CrossEncoderRerankingEvaluator(
                [{"query": q, "positive": r, "documents": r + o} for q, r, o in samples],
                at_k=10,
                always_rerank_positives=False,
                name="dev",
                write_csv=False,
            )
        from sentence_transformers.sentence_transformer.evaluation import RerankingEvaluator

        return RerankingEvaluator(
            [{"query": q, "positive": r, "negative": o} for q, r, o in samples], at_k=10, name="dev", write_csv=False
        )


def _ScoredDevEvaluator(dev: DevEvaluation, score: Callable[[Any, str, list[str]], Sequence[float]]) -> Any:
    """A sentence-transformers evaluator reporting `DevEvaluation.ndcg` of the model under training."""
    from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

    class ScoredDevEvaluator(BaseEvaluator):
        def __init__(self) -> None:
            super().__init__()
            self.primary_metric = "dev_ndcg@10"

        def __call__(
            self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1
        ) -> dict[str, float]:
            return {self.primary_metric: dev.ndcg(lambda query, passages: score(model, query, passages))}

    return ScoredDevEvaluator()
