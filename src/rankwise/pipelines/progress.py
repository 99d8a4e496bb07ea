"""The one shape of progress every pipeline reports (reranking, benchmarks, calibration, indexing, labelling,
training): `on_progress(advance, total=..., note=...)`, units done since the last call, with the total when
it becomes known and a short note (a benchmark row's label, a training step's loss). The CLI turns it into a
progress bar (`cli.common.bar_progress`)."""

from __future__ import annotations

from typing import Protocol


class OnProgress(Protocol):
    def __call__(self, advance: int, *, total: int | None = None, note: str = "") -> None: ...
