"""A calibration: a fitted monotone map from one reranker's scores to P(relevant), as data (no pickles), with
the reranker it was fitted for, so that it is never applied to another one.

Two maps: isotonic (a non-decreasing step function, applied by linear interpolation between its thresholds
and clipped at its ends, as scikit-learn's `IsotonicRegression(out_of_bounds="clip").predict`) and Platt (a
logistic function of the features). The feature is the raw score, except for rerankers whose scores only
order (`ScoreKind.ORDINAL`: positions, wins), where it is the rank (as -log rank; Platt also takes log of the
list length). Fitting is in `pipelines/calibrate.py`."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rankwise.errors import InputError, OptionError
from rankwise.scoring import sigmoid

FORMAT = "rankwise-calibration/1"
MAPS = ("isotonic", "platt")
FEATURES = ("score", "rank")


def feature_rows(
    feature: str, map_name: str, scores: Sequence[float], ranks: Sequence[int], lengths: Sequence[int]
) -> list[list[float]]:
    """Each passage's feature row: [score], or [-log rank] and, for Platt, [log length of its list]."""
    if feature == "score":
        return [[float(s)] for s in scores]
    if map_name == "isotonic":
        return [[-math.log(r)] for r in ranks]
    return [[-math.log(r), math.log(max(n, 1))] for r, n in zip(ranks, lengths)]


def depths_down(probabilities: Sequence[float]) -> list[float]:
    """For probabilities of relevance in rank order, each passage's depth: the chance that a passage ranked
    above it is relevant, 1 - prod over the higher ranks of (1 - p); 0 for the first."""
    depths, missed = [], 1.0
    for probability in probabilities:
        depths.append(1.0 - missed)
        missed *= 1.0 - float(probability)
    return depths


@dataclass(frozen=True)
class Calibration:
    map: str  # one of MAPS
    feature: str  # one of FEATURES
    parameters: Mapping[str, Any]  # isotonic: {"x": [...], "y": [...]}; platt: {"coef": [...], "intercept": b}
    reranker: Mapping[str, Any]  # the description (`BaseReranker.describe()`) of the reranker it was fitted for
    relevance_level: int  # a passage counts relevant at this grade or above
    data: Mapping[str, Any] = field(default_factory=dict)  # collections, first stage, queries, pairs, positives
    fit: Mapping[str, Any] = field(default_factory=dict)  # cross-validated log loss of each map, folds
    # For the adaptive cut-off: each calibration query's depth (`prefix_depths`) of its first relevant
    # passage, sorted; queries without a relevant passage in their list have none and are counted apart.
    depths: Sequence[float] = ()
    queries_without_relevant: int = 0

    def __post_init__(self) -> None:
        if self.map not in MAPS:
            raise InputError(f"calibration map must be one of {', '.join(MAPS)}, got {self.map!r}")
        if self.feature not in FEATURES:
            raise InputError(f"calibration feature must be one of {', '.join(FEATURES)}, got {self.feature!r}")

    def probabilities(self, scores: Sequence[float], ranks: Sequence[int], length: int) -> list[float]:
        """P(relevant) for the passages of one ranked list (`ranks` 1-based, `length` passages in it)."""
        import numpy as np

        if not scores:
            return []
        rows = np.asarray(
            feature_rows(self.feature, self.map, scores, ranks, [length] * len(scores)), dtype=float
        ).reshape(len(scores), -1)
        if self.map == "isotonic":
            x = np.asarray(self.parameters["x"], dtype=float)
            y = np.asarray(self.parameters["y"], dtype=float)
            return np.interp(rows[:, 0], x, y).tolist()
        coef = np.asarray(self.parameters["coef"], dtype=float)
        logits = rows @ coef + float(self.parameters["intercept"])
        return sigmoid(logits).tolist()

    def probabilities_in_order(self, scores: Sequence[float]) -> list[float]:
        """P(relevant) for one list's scores given in any order: ranked by descending score, ties in input
        order (as `Ranking.from_scores` ranks them), and answered in the input order."""
        order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
        ranks = [0] * len(scores)
        for rank, index in enumerate(order, start=1):
            ranks[index] = rank
        return self.probabilities(scores, ranks, len(scores))

    def prefix_depths(self, scores: Sequence[float], ranks: Sequence[int], length: int) -> list[float]:
        """Each passage's depth in its list: the probability that a passage ranked above it is relevant,
        1 - prod over higher ranks of (1 - P(relevant)), from the calibrated probabilities (0 for the first).
        It grows down the list, fast where the top passages are likely relevant, so a prefix cut at one depth
        is short on confident lists and long on doubtful ones."""
        probabilities = self.probabilities(scores, ranks, length)
        order = sorted(range(len(scores)), key=lambda i: ranks[i])
        depths = [0.0] * len(scores)
        for i, depth in zip(order, depths_down([probabilities[i] for i in order])):
            depths[i] = depth
        return depths

    def cutoff_depth(self, coverage: float) -> float:
        """Split conformal prediction: the depth a query's prefix must reach (every passage of depth <= it
        kept) so that it holds a relevant passage with probability >= `coverage`, marginally over queries
        exchangeable with the calibration queries that have one. The ceil((n + 1) * coverage)-th smallest
        calibration depth; beyond n, the whole list (infinity)."""
        if not 0.0 < coverage < 1.0:
            raise InputError(f"coverage must be in (0, 1), got {coverage}")
        if not self.depths:
            raise OptionError(
                "this calibration holds no query depths for the adaptive cut-off; refit it with `rankwise calibrate`"
            )
        n = len(self.depths)
        k = math.ceil((n + 1) * coverage)
        return math.inf if k > n else float(sorted(self.depths)[k - 1])

    def check_reranker(self, description: Mapping[str, Any], source: str = "the calibration") -> None:
        """Refuse a reranker other than the one the calibration was fitted for, naming what differs."""
        differences = [
            f"{key}: fitted for {self.reranker.get(key)!r}, given {description.get(key)!r}"
            for key in sorted(set(self.reranker) | set(description))
            if _plain(self.reranker.get(key)) != _plain(description.get(key))
        ]
        if differences:
            raise OptionError(
                f"{source} was fitted for another reranker ({'; '.join(differences)}); fit one for "
                "this reranker with `rankwise calibrate`"
            )

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **{key: _plain(value) for key, value in asdict(self).items()}}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        source = Path(path)
        if not source.is_file():
            raise InputError("calibration file not found", source=str(source))
        try:
            data = json.loads(source.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"not a calibration file (invalid JSON: {e})", source=str(source)) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError(f"not a calibration file (its format is not {FORMAT!r})", source=str(source))
        known = {
            "map",
            "feature",
            "parameters",
            "reranker",
            "relevance_level",
            "data",
            "fit",
            "depths",
            "queries_without_relevant",
        }
        missing = sorted({"map", "feature", "parameters", "reranker", "relevance_level"} - set(data))
        if missing:
            raise InputError(f"calibration file lacks {', '.join(missing)}", source=str(source))
        return cls(**{key: value for key, value in data.items() if key in known})


def _plain(value: Any) -> Any:
    """A JSON round trip of a value, so that tuples and lists (and other JSON-equal values) compare equal."""
    return json.loads(json.dumps(value, default=str))
