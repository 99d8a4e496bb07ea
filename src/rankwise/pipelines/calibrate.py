"""Fitting a calibration: a reranker's scores on judged collections, labelled relevant at a grade threshold,
and the monotone map (isotonic or Platt, scikit-learn) with the lower cross-validated log loss, folds split by
query so that no query's passages are on both sides. Held-out collections are never read for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankwise.calibration import MAPS, Calibration, depths_down, feature_rows
from rankwise.errors import InputError
from rankwise.io.collection import Collection
from rankwise.pipelines.progress import OnProgress
from rankwise.pipelines.train.data import HeldOut
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.wrappers.calibrated import scoring_description
from rankwise.types import Ranking, Request, ScoreKind

PLATT_C = 1e4  # practically unregularized: Platt scaling is a fit, not a shrinkage


@dataclass
class LabelledScores:
    """One row per reranked passage: its query, score, rank, list length and binary label."""

    qids: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)

    def add(self, ranking: Ranking, judged: dict[str, int], relevance_level: int) -> None:
        for result in ranking.results:
            self.qids.append(ranking.query.qid)
            self.scores.append(float(result.score))
            self.ranks.append(result.rank)
            self.lengths.append(len(ranking.results))
            self.labels.append(int(judged.get(result.docid, 0) >= relevance_level))

    def __len__(self) -> int:
        return len(self.labels)


def labelled_scores(
    reranker: BaseReranker,
    collections: Sequence[str | Path],
    held_out: HeldOut,
    first_stage: str = "bm25",
    top_k: int = 100,
    relevance_level: int = 2,
    queries: int | None = None,
    queries_per_batch: int = 4,
    on_progress: OnProgress | None = None,
) -> tuple[LabelledScores, dict[str, Any]]:
    """The reranker's scores on each collection's judged queries (unjudged passages count as not relevant);
    a held-out collection is refused and queries it holds are dropped."""
    table = LabelledScores()
    data: dict[str, Any] = {
        "collections": [],
        "first_stage": first_stage,
        "top_k": top_k,
        "queries": 0,
        "dropped_held_out_queries": 0,
    }
    for folder in map(Path, collections):
        held_out.check_collection(folder)
        collection = Collection.open(folder)
        qrels = collection.qrels(required="calibration")
        requests: list[Request] = []
        for request in collection.candidates(first_stage):
            if request.query.qid not in qrels:
                continue
            if held_out.has_query(request.query.qid, request.query.text):
                data["dropped_held_out_queries"] += 1
                continue
            requests.append(Request(request.query, request.candidates[:top_k]))
        requests = requests[:queries]
        for start in range(0, len(requests), queries_per_batch):
            batch = requests[start : start + queries_per_batch]
            for ranking in reranker.rerank_batch(batch):
                table.add(ranking, qrels[ranking.query.qid], relevance_level)
            if on_progress:
                on_progress(len(batch))
        data["collections"].append(collection.name)
        data["queries"] += len(requests)
    data.update(pairs=len(table), relevant=sum(table.labels))
    return table, data


def feature_for(reranker: BaseReranker) -> str:
    """Scores that only order (positions, wins) are calibrated through their rank; the others directly."""
    return "rank" if reranker.score_kind is ScoreKind.ORDINAL else "score"


def _fit_map(map_name: str, rows: Any, labels: Any) -> dict[str, Any]:
    import numpy as np

    if map_name == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        fitted = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(rows[:, 0], labels)
        return {"x": fitted.X_thresholds_.tolist(), "y": fitted.y_thresholds_.tolist()}
    if len(set(labels.tolist())) < 2:  # one class only: the base rate, as a constant logistic
        rate = float(np.clip(labels.mean(), 1e-6, 1 - 1e-6))
        return {"coef": [0.0] * rows.shape[1], "intercept": float(np.log(rate / (1 - rate)))}
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=PLATT_C, max_iter=1000).fit(rows, labels)
    return {"coef": fitted.coef_[0].tolist(), "intercept": float(fitted.intercept_[0])}


def fit_calibration(
    table: LabelledScores,
    feature: str,
    description: dict[str, Any],
    relevance_level: int,
    data: dict[str, Any] | None = None,
    folds: int = 5,
    maps: Sequence[str] = MAPS,
) -> tuple[Calibration, dict[str, list[float]]]:
    """The map with the lowest cross-validated log loss, refitted on every row; and each map's out-of-fold
    probabilities (for honest metrics on the fitting data)."""
    import numpy as np
    from sklearn.metrics import log_loss
    from sklearn.model_selection import GroupKFold

    if len(table) == 0:
        raise InputError("no judged passages to calibrate on")
    labels = np.asarray(table.labels)
    if labels.min() == labels.max():
        raise InputError(
            f"every calibration passage is {'relevant' if labels[0] else 'not relevant'}: a "
            "calibration needs both (lower --relevance-level, or add judged queries)"
        )
    groups = np.asarray(table.qids)
    splits = min(folds, len(set(table.qids)))
    if splits < 2:
        raise InputError("calibration needs judged passages of at least two queries (its folds split by query)")
    losses: dict[str, float] = {}
    out_of_fold: dict[str, list[float]] = {}
    for map_name in maps:
        rows = np.asarray(feature_rows(feature, map_name, table.scores, table.ranks, table.lengths), dtype=float)
        predicted = np.zeros(len(labels))
        for train, test in GroupKFold(n_splits=splits).split(rows, labels, groups):
            probe = Calibration(map_name, feature, _fit_map(map_name, rows[train], labels[train]), {}, relevance_level)
            for index in test:
                predicted[index] = probe.probabilities(
                    [table.scores[index]], [table.ranks[index]], table.lengths[index]
                )[0]
        losses[map_name] = float(log_loss(labels, np.clip(predicted, 1e-6, 1 - 1e-6), labels=[0, 1]))
        out_of_fold[map_name] = predicted.tolist()
    chosen = min(losses, key=losses.get)
    rows = np.asarray(feature_rows(feature, chosen, table.scores, table.ranks, table.lengths), dtype=float)
    calibration = Calibration(
        chosen,
        feature,
        _fit_map(chosen, rows, labels),
        description,
        relevance_level,
        data=data or {},
        fit={"folds": splits, "cv_log_loss": losses, "chosen": chosen},
    )
    # the conformal depths from out-of-fold probabilities: no query's depth comes from a map fitted on it
    depths, without = first_relevant_depths(table, out_of_fold[chosen])
    return dataclasses.replace(calibration, depths=depths, queries_without_relevant=without), out_of_fold


def first_relevant_depths(table: LabelledScores, probabilities: Sequence[float]) -> tuple[list[float], int]:
    """Per query, the depth (`depths_down`) of its first relevant passage, sorted; and how many queries have no
    relevant passage in their list (no prefix can cover them)."""
    rows: dict[str, list[tuple[int, float, int]]] = {}
    for qid, rank, probability, label in zip(table.qids, table.ranks, probabilities, table.labels):
        rows.setdefault(qid, []).append((rank, float(probability), label))
    depths, without = [], 0
    for passages in rows.values():
        passages.sort()
        found = [depth for depth, (_, _, label) in zip(depths_down([p for _, p, _ in passages]), passages) if label]
        if found:
            depths.append(found[0])
        else:
            without += 1
    return sorted(depths), without


def calibrate(
    reranker: BaseReranker,
    collections: Sequence[str | Path],
    held_out: Sequence[str | Path] = (),
    first_stage: str = "bm25",
    top_k: int = 100,
    relevance_level: int = 2,
    queries: int | None = None,
    folds: int = 5,
    on_progress: OnProgress | None = None,
) -> tuple[Calibration, dict[str, Any]]:
    """Fit a calibration for `reranker` on judged `collections`, never reading the `held_out` ones; with the
    out-of-fold metrics of the chosen map."""
    guard = HeldOut.from_collections(held_out)
    table, data = labelled_scores(
        reranker, collections, guard, first_stage, top_k, relevance_level, queries, on_progress=on_progress
    )
    data["held_out"] = guard.names()
    calibration, out_of_fold = fit_calibration(
        table, feature_for(reranker), scoring_description(reranker), relevance_level, data, folds
    )
    metrics = calibration_metrics(out_of_fold[calibration.map], table.labels)
    return calibration, {"data": data, "cv_log_loss": calibration.fit["cv_log_loss"], "out_of_fold": metrics}


def calibration_metrics(probabilities: Sequence[float], labels: Sequence[int], bins: int = 15) -> dict[str, float]:
    """Expected calibration error (equal-width bins, weighted by their share), Brier score and log loss."""
    import numpy as np
    from sklearn.metrics import brier_score_loss, log_loss

    p, y = np.asarray(probabilities, dtype=float), np.asarray(labels, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    ece = sum(
        abs(p[which == b].mean() - y[which == b].mean()) * (which == b).mean()
        for b in range(bins)
        if (which == b).any()
    )
    return {
        "ece": float(ece),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])),
        "pairs": len(y),
        "positive_share": float(y.mean()),
    }
