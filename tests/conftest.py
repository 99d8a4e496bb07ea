"""Shared fixtures. Tests use the smallest real models (MiniLM for encoders, SmolLM2-135M for LLM paths);
tests that read the TREC collections skip with a clear message when ../shared/data is absent."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

# The backend a model opens with by default may be a choice measured on this machine (backends/choice.py):
# tests never read the user's choices, only their own (inherited by the servers and CLIs they start).
os.environ["RANKWISE_BACKEND_CHOICES"] = str(Path(tempfile.mkdtemp(prefix="rankwise-choices-")) / "choices.json")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EXAMPLES = ROOT / "examples"
# Four short passages and a query with one clear answer (1), a partial one (3) and a false friend (2).
FLEA_PASSAGES = [
    "Sourdough needs feeding with flour and water every day.",
    "An adult flea usually lives two to three months, sometimes more than a year.",
    "The flea market on the harbour sells antiques and records.",
    "Flea pupae can stay dormant in cocoons for up to a year.",
]
FLEA_QUERY = "how long do fleas live"


def data_path(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"test collection {path} is absent (tests read ../shared/data relative to the project root)")
    return path


def judged_collection(folder: Path, dataset: str, queries: int, depth: int, skip: int = 0) -> Path:
    """A collection folder of `dataset`'s judged queries `skip` .. `skip + queries` (BM25 top `depth`) and
    their qrels, written to `folder`."""
    import json

    entries = json.loads(data_path(dataset, "bm25_top100.json").read_text())
    qrels_lines = data_path(dataset, "qrels.txt").read_text().splitlines()
    judged = {line.split()[0] for line in qrels_lines}
    entries = [e for e in entries if str(e["hits"][0]["qid"]) in judged][skip : skip + queries]
    for entry in entries:
        entry["hits"] = entry["hits"][:depth]
    folder.mkdir(parents=True)
    (folder / "bm25_top100.json").write_text(json.dumps(entries))
    qids = {str(e["hits"][0]["qid"]) for e in entries}
    (folder / "qrels.txt").write_text("\n".join(line for line in qrels_lines if line.split()[0] in qids) + "\n")
    return folder


@pytest.fixture(scope="session", autouse=True)
def _tokenizers_read_once():
    """Each local tokenizer is read once per test session: later loads of the same folder (its files' sizes
    and modification times included) with the same arguments get a deep copy of the first. SmolLM2's takes
    1.3 s to read and 0.3 s to copy, over sixty times; weights are not cached, as transformers maps them
    (0.3 s) faster than a deep copy (1.9 s)."""
    import copy

    from rankwise.backends import runtime
    from rankwise.backends.export_cache import weights_key

    original = runtime.load_pretrained
    read: dict = {}

    def load_pretrained(loader, location, **kwargs):
        if not location.is_local or "Tokenizer" not in getattr(loader, "__qualname__", ""):
            return original(loader, location, **kwargs)
        key = (getattr(loader, "__qualname__", repr(loader)), weights_key(location), repr(sorted(kwargs.items())))
        if key not in read:
            read[key] = original(loader, location, **kwargs)
        return copy.deepcopy(read[key])

    runtime.load_pretrained = load_pretrained
    yield
    runtime.load_pretrained = original


@pytest.fixture(scope="session")
def minilm():
    from rankwise import Reranker

    return Reranker.load("minilm-embed")


@pytest.fixture(scope="session")
def smollm_pointwise():
    from rankwise import Reranker

    return Reranker.load("smollm2-135m", method="llm-pointwise", batch_size=4)


@pytest.fixture(scope="session")
def smollm_likelihood():
    from rankwise import Reranker

    return Reranker.load("smollm2-135m", method="query-likelihood", batch_size=4)


@pytest.fixture(scope="session")
def flea_docs():
    from rankwise.io import read_documents

    return read_documents(EXAMPLES / "fleas.jsonl")


@pytest.fixture(scope="session")
def dl19_requests():
    from rankwise.io import read_candidates

    return read_candidates(data_path("dl19", "bm25_top100.json"))


@pytest.fixture
def write(tmp_path):
    """Write text or bytes to a file in tmp_path and return its path."""

    def _write(name: str, content: str | bytes | list) -> Path:
        path = tmp_path / name
        if isinstance(content, list):
            content = json.dumps(content)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write
