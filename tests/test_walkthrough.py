"""The own-data guide's walkthrough (docs/guides/your-own-data.md), from a corpus and queries only to a calibrated, fine-tuned reranker, run as
written (every command of its block, unchanged) on DL 2022 passages and queries (never DL 2019). Opt-in:
it judges with a 0.5B LLM and trains a cross-encoder (a few minutes)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import ROOT, data_path

from rankwise.io import read_candidates

pytestmark = pytest.mark.slow


def walkthrough_commands() -> list[str]:
    readme = (ROOT / "docs" / "guides" / "your-own-data.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- walkthrough[^>]*-->\n```bash\n(.*?)```", readme, flags=re.S)
    assert block, "the guide's walkthrough block is missing"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_walkthrough_runs_as_written(tmp_path):
    pytest.importorskip("llama_cpp", reason="the walkthrough judges with llama.cpp (make setup builds it)")
    requests = read_candidates(data_path("dl22") / "bm25_top100.json")[:9]
    seen, corpus = set(), []
    for request in requests:
        for candidate in request.candidates[:30]:
            if candidate.docid not in seen:
                seen.add(candidate.docid)
                corpus.append({"docid": candidate.docid, "text": candidate.text})
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    (tmp_path / "queries.tsv").write_text("".join(f"{r.query.qid}\t{r.query.text}\n" for r in requests))
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in walkthrough_commands():
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=environment, capture_output=True, text=True)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    assert len((tmp_path / "test" / "topics.tsv").read_text().splitlines()) == 3
    assert (tmp_path / "my-reranker" / "model" / "training.json").exists()
    calibration = json.loads((tmp_path / "my-reranker" / "calibration.json").read_text())
    assert calibration["data"]["held_out"] == ["test"] and calibration["reranker"]["method"] == "cross-encoder"
    run = (tmp_path / "runs" / "calibrated.trec").read_text().splitlines()
    assert {line.split()[0] for line in run} == {
        line.split("\t")[0] for line in (tmp_path / "test" / "topics.tsv").read_text().splitlines()
    }
