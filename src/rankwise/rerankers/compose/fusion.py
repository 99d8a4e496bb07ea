"""Learned fusion: LightGBM LambdaMART over per-candidate features from several rankwise rerankers plus the
first stage's score and rank.

A fusion model is a folder: `fusion.json` (the stages and the feature list) and `lightgbm.txt` (the
booster). Stages are rerankers named as everywhere else (`method:model`); a stage with `head: k` scores
only the top k of the first stage (cascade-aware: an expensive stage is paid only where it matters) and
its features are missing (NaN, which LightGBM routes as missing) below that. Per score: the raw value, its
z-score and rank within the query (scale-free), and its gap to the query's best. With `scale_free_gap`
(every model trained since) the gap is in standard deviations of the query's scores (`gap_z`); the first
fusion model predates it and keeps the raw gap in the score's own units, which mixes scales when first
stages differ (BM25 ~10, SPLADE++ ~10^6)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rankwise.backends.options import RuntimeOptions
from rankwise.errors import InputError, UnsupportedMethodError
from rankwise.models.registry import FUSION
from rankwise.models.resolve import ModelLocation
from rankwise.options import option
from rankwise.rerankers.base import BaseReranker, shared_token_counter
from rankwise.rerankers.compose.spec import RerankerSpec
from rankwise.types import Ranking, Request, ScoreKind

if TYPE_CHECKING:
    import numpy as np

SPEC_FILE = "fusion.json"
BOOSTER_FILE = "lightgbm.txt"


@dataclass(frozen=True, kw_only=True)
class Stage(RerankerSpec):
    """A reranker not yet loaded (`RerankerSpec`) whose scores become features named after `name`; `head`:
    score only the first stage's top `head`."""

    name: str
    head: int | None = None


@dataclass
class FusionSpec:
    stages: list[Stage]
    first_stage_features: bool = True
    scale_free_gap: bool = False  # False only for models trained before it existed

    @property
    def feature_names(self) -> list[str]:
        gap = "gap_z" if self.scale_free_gap else "gap"
        names = []
        for stage in self.stages:
            names += [f"{stage.name}.score", f"{stage.name}.z", f"{stage.name}.{gap}", f"{stage.name}.log_rank"]
        if self.first_stage_features:
            names += ["first_stage.z", f"first_stage.{gap}", "first_stage.log_rank"]
        return names + ["passage.log_words"]

    def to_json(self) -> dict[str, Any]:
        return {
            "stages": [asdict(s) for s in self.stages],
            "first_stage_features": self.first_stage_features,
            "scale_free_gap": self.scale_free_gap,
            "features": self.feature_names,
        }

    @classmethod
    def read(cls, folder: str | Path) -> FusionSpec:
        path = Path(folder) / SPEC_FILE
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                stages=[Stage(**s) for s in entry["stages"]],
                first_stage_features=bool(entry.get("first_stage_features", True)),
                scale_free_gap=bool(entry.get("scale_free_gap", False)),
            )
        except FileNotFoundError:
            raise InputError("not a fusion model folder (no fusion.json)", source=str(folder)) from None
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(f"malformed fusion spec: {e}", source=str(path)) from None


def _normalized_block(scores: list[float], scale_free_gap: bool) -> list[list[float]]:
    """[score, z-score, gap to the best, log rank] per candidate; NaN where a score is missing."""
    present = [s for s in scores if not math.isnan(s)]
    if not present:
        return [[math.nan] * 4 for _ in scores]
    mean = sum(present) / len(present)
    std = math.sqrt(sum((s - mean) ** 2 for s in present) / len(present)) or 1.0
    best = max(present)
    order = sorted((i for i, s in enumerate(scores) if not math.isnan(s)), key=lambda i: -scores[i])
    rank = {i: r for r, i in enumerate(order, start=1)}
    unit = std if scale_free_gap else 1.0
    return [
        [s, (s - mean) / std, (s - best) / unit, math.log1p(rank[i])] if i in rank else [math.nan] * 4
        for i, s in enumerate(scores)
    ]


def stage_scores(reranker: BaseReranker, requests: list[Request], head: int | None) -> list[list[float]]:
    """The stage's score for every candidate (NaN below its head), in candidate order."""
    heads = [Request(r.query, r.candidates[:head]) if head else r for r in requests]
    rankings = reranker.rerank_batch(heads)
    out = []
    for request, ranking in zip(requests, rankings):
        by_id = {res.docid: res.score for res in ranking.results}
        out.append([by_id.get(c.docid, math.nan) for c in request.candidates])
    return out


def feature_matrix(spec: FusionSpec, request: Request, per_stage: list[list[float]]) -> np.ndarray:
    """Rows of features (in `spec.feature_names` order) for one request's candidates."""
    import numpy as np

    n = len(request.candidates)
    columns: list[list[list[float]]] = [_normalized_block(scores, spec.scale_free_gap) for scores in per_stage]
    if spec.first_stage_features:
        first = [c.score if c.score is not None else math.nan for c in request.candidates]
        block = _normalized_block(first, spec.scale_free_gap)
        # Rank is the input position, known even without first-stage scores.
        columns.append([[row[1], row[2], math.log1p(i + 1)] for i, row in enumerate(block)])
    columns.append([[math.log1p(len(c.text.split()))] for c in request.candidates])
    return np.array([[value for block in columns for value in block[i]] for i in range(n)], dtype=np.float64)


def request_features(spec: FusionSpec, stages: list[BaseReranker], requests: list[Request]) -> list[np.ndarray]:
    """Feature rows for each request, every stage run once over all of them (so stages batch across queries);
    the one feature computation both training and inference use."""
    per_stage = [stage_scores(reranker, requests, stage.head) for reranker, stage in zip(stages, spec.stages)]
    return [feature_matrix(spec, request, [scores[q] for scores in per_stage]) for q, request in enumerate(requests)]


def load_booster(path: str | Path) -> Any:
    try:
        import lightgbm
    except ImportError:
        raise UnsupportedMethodError("the fusion method needs LightGBM: pip install 'rankwise[fusion]'") from None
    return lightgbm.Booster(model_file=str(path))


@dataclass(frozen=True)
class FusionOptions:
    index: str | None = option(
        None,
        help="a forward index folder, given to every stage whose method reads "
        "passage vectors (embedding, embedding-prf, maxsim, ...)",
    )


def reads_passage_vectors(stage: Stage, backend: str | None) -> bool:
    """Whether the stage's method takes an `index` option."""
    import dataclasses

    from rankwise.backends.registry import locate
    from rankwise.rerankers.registry import default_method, method_class

    method = stage.method or default_method(locate(stage.model, backend))
    options = getattr(method_class(method), "Options", None)
    return options is not None and any(f.name == "index" for f in dataclasses.fields(options))


class FusionReranker(BaseReranker):
    score_kind = ScoreKind.UNBOUNDED  # LambdaMART's output
    model_kinds = (FUSION,)
    method = "fusion"
    Options = FusionOptions

    def __init__(self, spec: FusionSpec, stages: list[BaseReranker], booster: Any, model_label: str):
        super().__init__(model_label)
        self.spec, self.stages, self.booster = spec, stages, booster

    @classmethod
    def from_model(cls, location: ModelLocation, runtime: RuntimeOptions, **options: Any) -> FusionReranker:
        from rankwise.rerankers.registry import load_reranker

        chosen = cls.checked_options(options)
        if not location.is_local:
            raise InputError("a fusion model is a local folder with fusion.json and lightgbm.txt", source=location.path)
        spec = FusionSpec.read(location.path)
        booster = load_booster(Path(location.path) / BOOSTER_FILE)
        extra: dict[str, dict[str, Any]] = {s.name: {} for s in spec.stages}
        if chosen.index is not None:
            readers = [s.name for s in spec.stages if reads_passage_vectors(s, runtime.backend)]
            if not readers:
                raise InputError(
                    f"index={chosen.index!r}: none of this fusion model's stages "
                    f"({', '.join(s.name for s in spec.stages)}) reads passage vectors"
                )
            extra.update({name: {"index": chosen.index} for name in readers})
        # The runtime options (device, batch_size, threads, ...) are for the stages that run models.
        stages = [
            load_reranker(s.model, method=s.method, **{**runtime.overrides(), **s.options, **extra[s.name]})
            for s in spec.stages
        ]
        fused = cls(spec, stages, booster, location.label)
        fused.token_counter = shared_token_counter(stages)
        return fused

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        rankings = []
        for request, features in zip(requests, request_features(self.spec, self.stages, requests)):
            if not request.candidates:
                rankings.append(Ranking(request.query, []))
                continue
            scores = self.booster.predict(features).tolist()
            rankings.append(Ranking.from_scores(request, scores, trace={"features": self.spec.feature_names}))
        return rankings

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "stages": [asdict(s) for s in self.spec.stages]}
