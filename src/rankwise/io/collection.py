"""A test collection folder in the `../shared/data` shape, read in one place: `topics.tsv`, an optional
`qrels.txt`, and one `<first stage>_top100.json` candidate file per first stage. Benchmarks, training data,
fusion training and the held-out guard all read collections through this."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rankwise.errors import InputError
from rankwise.io.candidates import read_candidates
from rankwise.io.trec import read_qrels, read_topics
from rankwise.types import Query, Request

FIRST_STAGES = ("bm25", "splade_pp_ed")  # the first stages the shared collections carry, in this order
CANDIDATES_SUFFIX = "_top100.json"


def is_collection_folder(source: str | Path) -> bool:
    """A folder shaped like ../shared/data: one or more first stages' candidate files."""
    path = Path(source)
    return path.is_dir() and any(path.glob(f"*{CANDIDATES_SUFFIX}"))


@dataclass(frozen=True)
class Collection:
    folder: Path

    @classmethod
    def open(cls, folder: str | Path) -> Collection:
        path = Path(folder)
        if not path.is_dir():
            raise InputError("collection folder not found", source=str(path))
        return cls(path)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def judged(self) -> bool:
        return (self.folder / "qrels.txt").is_file()

    def qrels(self, required: str | None = None) -> dict[str, dict[str, int]]:
        """The judgments ({} when the collection has none, unless `required` says why they are needed)."""
        if not self.judged:
            if required:
                raise InputError(f"{required} needs judged queries (qrels.txt)", source=str(self.folder))
            return {}
        return read_qrels(self.folder / "qrels.txt")

    def topics(self) -> list[Query]:
        path = self.folder / "topics.tsv"
        return read_topics(path) if path.is_file() else []

    def first_stages(self) -> list[str]:
        """The first stages with a candidate file here: the known ones in order, then any other."""
        found = sorted(p.name[: -len(CANDIDATES_SUFFIX)] for p in self.folder.glob(f"*{CANDIDATES_SUFFIX}"))
        return [s for s in FIRST_STAGES if s in found] + [s for s in found if s not in FIRST_STAGES]

    def candidates(self, first_stage: str) -> list[Request]:
        path = self.folder / f"{first_stage}{CANDIDATES_SUFFIX}"
        if not path.is_file():
            raise InputError(f"no {first_stage} candidates ({path.name})", source=str(self.folder))
        return read_candidates(path)
