"""When a cascade stage is worth its cost for a query: read from the calibrated probabilities the stage
before it gave the query's top passages.

A query whose top passages are all clearly relevant or clearly not has little for a costlier reranker to
fix; one whose top passages sit near P = 0.5 has the most. Three signals, each over the previous stage's
top `k` (default 10), all in the terms of a calibration:

- `top1`: P(relevant) of the top passage;
- `mass@k`: the expected number of relevant passages in the top k (the sum of their probabilities);
- `doubt@k`: the mean of 4 p (1 - p) over the top k, 0 when every one is certain, 1 when every one is 0.5.

`escalate_when="SIGNAL:LO..HI"` runs the stage only for queries whose signal lies in [LO, HI] (e.g.
`doubt@10:0.5..1`, `top1:0.2..0.8`). A request's latency budget (its `deadline`) runs it for the most
doubtful queries first, as many as the stage's measured cost per query leaves time for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rankwise.errors import OptionError

SIGNALS = ("top1", "mass", "doubt")
DEFAULT_DEPTH = 10
_FORM = re.compile(r"^(?P<signal>top1|mass|doubt)(?:@(?P<k>\d+))?:(?P<lo>[0-9.]+)\.\.(?P<hi>[0-9.]+)$")


def doubt(probabilities: Sequence[float], k: int = DEFAULT_DEPTH) -> float:
    """The mean of 4 p (1 - p) over the first `k` probabilities (a ranked list's top), 0 for none."""
    top = list(probabilities[:k])
    return sum(4.0 * p * (1.0 - p) for p in top) / len(top) if top else 0.0


@dataclass(frozen=True)
class EscalateWhen:
    signal: str
    k: int
    low: float
    high: float

    @classmethod
    def parse(cls, text: str) -> EscalateWhen:
        match = _FORM.match(text.strip())
        if not match:
            raise OptionError(
                f"escalate_when={text!r} is not SIGNAL[@K]:LO..HI with SIGNAL one of {', '.join(SIGNALS)} "
                "(e.g. doubt@10:0.5..1, top1:0.2..0.8, mass@10:0..3)"
            )
        try:
            low, high = float(match["lo"]), float(match["hi"])
        except ValueError:
            raise OptionError(f"escalate_when={text!r}: the band's bounds must be numbers") from None
        k = int(match["k"]) if match["k"] else DEFAULT_DEPTH
        if match["signal"] == "top1" and match["k"]:
            raise OptionError(f"escalate_when={text!r}: top1 reads the top passage only; drop the @{k}")
        if k < 1 or low > high:
            raise OptionError(f"escalate_when={text!r}: needs K >= 1 and LO <= HI")
        return cls(match["signal"], 1 if match["signal"] == "top1" else k, low, high)

    def value(self, probabilities: Sequence[float]) -> float:
        """The signal for one query's probabilities, best first."""
        if self.signal == "doubt":
            return doubt(probabilities, self.k)
        if self.signal == "mass":
            return float(sum(probabilities[: self.k]))
        return float(probabilities[0]) if probabilities else 0.0

    def holds(self, probabilities: Sequence[float]) -> bool:
        return self.low <= self.value(probabilities) <= self.high

    def __str__(self) -> str:
        depth = "" if self.signal == "top1" else f"@{self.k}"
        return f"{self.signal}{depth}:{self.low:g}..{self.high:g}"
