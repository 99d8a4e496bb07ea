"""People's judgments, kept as an append-only event log (`human_judgments.jsonl`, an
`io.resumable.ResumableJsonl`): each grade a judge gives, and each undo, is a line fsynced before the answer,
so a killed server loses nothing. The current grades are the log replayed; qrels are exported per judge (or
every judge's latest grade per pair) and existing qrels imported under a judge's name."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rankwise.errors import InputError
from rankwise.io import read_qrels
from rankwise.io.resumable import ResumableJsonl

HUMAN = "human_judgments.jsonl"
GRADES = (0, 1, 2, 3)


class HumanJudgments:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / HUMAN
        self.log = ResumableJsonl(self.path, "judgment event", key="judge")
        self.events: list[dict[str, Any]] = self.log.records()

    def _append(self, event: dict[str, Any]) -> None:
        self.log.append([event])
        self.events.append(event)

    def judge(self, judge: str, qid: str, docid: str, grade: int) -> None:
        if grade not in GRADES:
            raise InputError(f"grade must be one of 0, 1, 2, 3, not {grade!r}")
        if not judge.strip():
            raise InputError("a judgment needs the judge's name")
        self._append({"judge": judge, "qid": qid, "docid": docid, "grade": grade, "time": time.time()})

    def undo(self, judge: str) -> dict[str, Any] | None:
        """Take back the judge's last judgment still standing; the pair's earlier grade (if any) returns."""
        standing = self._standing(judge)
        if not standing:
            return None
        last = standing[-1]
        self._append({"judge": judge, "undo": last["index"], "time": time.time()})
        return {"qid": last["qid"], "docid": last["docid"], "grade": last["grade"]}

    def _standing(self, judge: str) -> list[dict[str, Any]]:
        undone = {e["undo"] for e in self.events if e.get("judge") == judge and "undo" in e}
        return [
            {**e, "index": i}
            for i, e in enumerate(self.events)
            if e.get("judge") == judge and "grade" in e and i not in undone
        ]

    def grades(self, judge: str | None = None) -> dict[str, dict[str, int]]:
        """qid -> docid -> the latest standing grade (of `judge`, or of any judge)."""
        judges = {judge} if judge is not None else {e.get("judge") for e in self.events}
        latest: dict[tuple[str, str], tuple[int, int]] = {}
        for name in judges:
            for e in self._standing(name):  # type: ignore[arg-type]
                key = (e["qid"], e["docid"])
                if key not in latest or latest[key][0] < e["index"]:
                    latest[key] = (e["index"], e["grade"])
        qrels: dict[str, dict[str, int]] = {}
        for (qid, docid), (_, grade) in latest.items():
            qrels.setdefault(qid, {})[docid] = grade
        return qrels

    def judges(self) -> list[str]:
        return sorted({e["judge"] for e in self.events if "judge" in e})

    def qrels_text(self, judge: str | None = None) -> str:
        return "".join(
            f"{qid} 0 {docid} {grade}\n"
            for qid, docs in sorted(self.grades(judge).items())
            for docid, grade in sorted(docs.items())
        )

    def import_qrels(self, path: str | Path, judge: str) -> int:
        count = 0
        for qid, docs in read_qrels(path).items():
            for docid, grade in docs.items():
                self.judge(judge, qid, docid, min(max(grade, 0), 3))
                count += 1
        return count
