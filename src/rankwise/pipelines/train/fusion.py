"""Training a learned fusion: LightGBM LambdaMART on the features `rerankers.fusion` computes, graded by
qrels, with query-level cross-validation for model selection, then one final fit on every query.

Monotone constraints keep each score feature pointing the right way (a higher stage score never lowers the
fused score, a worse rank never raises it): with a few dozen training queries an unconstrained booster
learns quirks of those queries instead (measured on DL 2021: 0.571 unconstrained vs 0.596 constrained)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankwise.errors import InputError, UnsupportedMethodError
from rankwise.io.collection import FIRST_STAGES, Collection, is_collection_folder
from rankwise.io.trec import Qrels
from rankwise.pipelines.evaluate import evaluate
from rankwise.pipelines.progress import OnProgress
from rankwise.pipelines.train.data import HeldOut, query_folds
from rankwise.pipelines.train.run import TrainingRun
from rankwise.rerankers.compose.fusion import BOOSTER_FILE, SPEC_FILE, FusionSpec, request_features
from rankwise.rerankers.registry import load_spec
from rankwise.types import Candidate, Query, Request

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "n_estimators": 100,
    "learning_rate": 0.05,
    "num_leaves": 3,
    "min_child_samples": 100,
    "subsample": 0.8,
    "subsample_freq": 1,
    "verbose": -1,
}


@dataclass
class FeatureGroup:
    """One query's candidates from one first stage, with features and graded labels."""

    source: str  # e.g. "dl21/bm25"
    qid: str
    docids: list[str]
    features: Any  # np.ndarray [candidates, features]
    labels: list[int]


@dataclass
class FusionTrainingReport:
    out_dir: Path
    cv_ndcg10: dict[str, float]  # per source, cross-validated
    folds: int
    queries: int
    seconds: float
    feature_importance: dict[str, float] = field(default_factory=dict)


def monotone_constraints(names: Sequence[str]) -> list[int]:
    def direction(name: str) -> int:
        if name.endswith(".log_rank"):
            return -1
        if name.endswith((".score", ".z", ".gap", ".gap_z")):
            return 1
        return 0

    return [direction(n) for n in names]


def load_training_requests(
    collections: Sequence[str | Path], first_stages: Sequence[str], held_out: HeldOut
) -> list[tuple[str, Request, dict[str, int]]]:
    """(source, request, grades) for every judged query: of every first stage's candidate file in a
    collection folder, and of any other training format (formats.py) in the file's own passage order, which
    is then the first stage's ranking (its ranks are features; it has no first-stage scores)."""
    loaded = []
    for source in collections:
        if is_collection_folder(source):
            loaded += _collection_requests(Path(source), first_stages, held_out)
        else:
            loaded += _format_requests(source, held_out)
    if not loaded:
        raise InputError("no judged training queries found")
    return loaded


def _collection_requests(
    folder: Path, first_stages: Sequence[str], held_out: HeldOut
) -> list[tuple[str, Request, dict[str, int]]]:
    held_out.check_collection(folder)
    collection = Collection.open(folder)
    qrels = collection.qrels(required="fusion training")
    loaded = []
    for stage in first_stages:
        for request in collection.candidates(stage):
            if request.query.qid not in qrels or held_out.has_query(request.query.qid, request.query.text):
                continue
            kept = [c for c in request.candidates if not held_out.has_passage(c.docid, c.text)]
            loaded.append((f"{folder.name}/{stage}", Request(request.query, kept), qrels[request.query.qid]))
    return loaded


def _format_requests(source: str | Path, held_out: HeldOut) -> list[tuple[str, Request, dict[str, int]]]:
    from rankwise.pipelines.train.formats import read_training_data

    loaded = []
    for group in read_training_data(source, held_out=held_out).groups:
        grades = {d.docid: d.grade for d in group.docs if d.grade is not None}
        if not grades:
            continue  # a teacher's scores grade nothing: LambdaMART learns from judgments
        candidates = [Candidate(d.docid, d.text) for d in group.docs]  # a lists file's scores are a teacher's
        loaded.append((group.collection, Request(Query(group.qid, group.query), candidates), grades))
    return loaded


def compute_features(
    spec: FusionSpec,
    loaded: list[tuple[str, Request, dict[str, int]]],
    on_progress: OnProgress | None = None,
    queries_per_batch: int = 4,
) -> list[FeatureGroup]:
    stages = [load_spec(s) for s in spec.stages]
    groups = []
    for offset in range(0, len(loaded), queries_per_batch):
        chunk = loaded[offset : offset + queries_per_batch]
        requests = [request for _, request, _ in chunk]
        for (source, request, grades), features in zip(chunk, request_features(spec, stages, requests)):
            docids = [c.docid for c in request.candidates]
            groups.append(FeatureGroup(source, request.query.qid, docids, features, [grades.get(d, 0) for d in docids]))
        if on_progress:
            on_progress(len(chunk))
    return groups


def _fit(groups: list[FeatureGroup], names: list[str], params: dict[str, Any], seed: int) -> Any:
    try:
        import lightgbm
    except ImportError:
        raise UnsupportedMethodError("fusion training needs LightGBM: pip install 'rankwise[fusion]'") from None
    import numpy as np

    ranker = lightgbm.LGBMRanker(**{**params, "random_state": seed}, monotone_constraints=monotone_constraints(names))
    ranker.fit(
        np.concatenate([g.features for g in groups]),
        np.concatenate([g.labels for g in groups]),
        group=[len(g.docids) for g in groups],
        feature_name=[n.replace(".", "_") for n in names],
    )
    return ranker


def cross_validate(
    groups: list[FeatureGroup],
    qrels_by_source: dict[str, Qrels],
    names: list[str],
    params: dict[str, Any],
    folds: int,
    seed: int,
) -> dict[str, float]:
    """nDCG@10 per source with every query scored by a model that never saw it (query-level folds)."""
    runs: dict[str, dict[str, dict[str, float]]] = {}
    for held in query_folds([g.qid for g in groups], folds, seed):
        held_set = set(held)
        model = _fit([g for g in groups if g.qid not in held_set], names, params, seed)
        for g in groups:
            if g.qid in held_set:
                scores = map(float, model.booster_.predict(g.features))
                runs.setdefault(g.source, {})[g.qid] = dict(zip(g.docids, scores))
    return {source: evaluate(run, qrels_by_source[source], ["nDCG@10"])["nDCG@10"] for source, run in runs.items()}


def train_fusion(
    spec: FusionSpec,
    collections: Sequence[str | Path],
    out_dir: str | Path,
    first_stages: Sequence[str] = FIRST_STAGES,
    held_out: HeldOut | None = None,
    folds: int = 5,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    on_progress: OnProgress | None = None,
) -> FusionTrainingReport:
    """Compute features, cross-validate, fit on all queries and write the fusion folder with its record
    (`training.json`, the shape every trainer writes, through `TrainingRun`)."""
    run = TrainingRun(out_dir, resume=False)
    params = {**DEFAULT_PARAMS, **(params or {})}
    loaded = load_training_requests(collections, first_stages, held_out or HeldOut())
    if on_progress:
        on_progress(0, total=len(loaded), note="features")
    groups = compute_features(spec, loaded, on_progress)
    qrels_by_source: dict[str, Qrels] = {}
    for source, request, grades in loaded:
        qrels_by_source.setdefault(source, {})[request.query.qid] = grades
    names = spec.feature_names
    cv = cross_validate(groups, qrels_by_source, names, params, folds, seed)
    model = _fit(groups, names, params, seed)
    out = run.out
    model.booster_.save_model(str(out / BOOSTER_FILE))
    (out / SPEC_FILE).write_text(json.dumps(spec.to_json(), indent=2) + "\n", encoding="utf-8")
    importance = dict(zip(names, map(float, model.booster_.feature_importance("gain"))))
    queries = len({g.qid for g in groups})
    record = run.finish(
        out,
        trainer="fusion",
        base_model=", ".join(f"{s.name}={s.method or 'default'}:{s.model}" for s in spec.stages),
        collections=[Path(c).name for c in collections],
        held_out=(held_out or HeldOut()).names(),
        queries=queries,
        examples=len(groups),
        steps=int(params["n_estimators"]),
        loss="LambdaMART (LightGBM lambdarank) with monotone constraints",
        parameters_trained=sum(int(t["num_leaves"]) for t in model.booster_.dump_model()["tree_info"]),
        config={
            "first_stages": list(first_stages),
            "folds": folds,
            "seed": seed,
            "params": params,
            "cv_ndcg@10": cv,
            "feature_importance_gain": importance,
        },
    )
    return FusionTrainingReport(out, cv, folds, queries, record.seconds, importance)
