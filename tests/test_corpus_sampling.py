"""Synthetic queries for a corpus without queries (DUQGen): passages sampled across k-means clusters of a
forward index's vectors, each pooled with its nearest passages, then the usual generation and round trip."""

import json

import numpy as np
import pytest
from tests.conftest import data_path
from typer.testing import CliRunner

from rankwise import InputError
from rankwise.cli.main import app
from rankwise.pipelines.index import build_forward_index
from rankwise.pipelines.train.corpus_sampling import CorpusSampling, corpus_vectors, sample_corpus
from rankwise.pipelines.train.data import HeldOut, build_query_groups
from rankwise.types import Candidate


@pytest.fixture(scope="module")
def topical_corpus(tmp_path_factory):
    """Six DL 2022 topics' top passages (unjudged, never DL 2019), as one corpus without queries, indexed."""
    groups = build_query_groups([data_path("dl22")], held_out=HeldOut.from_collections([data_path("dl19")])).groups
    topic, documents, seen = {}, [], set()
    for group in groups[:6]:
        for doc in sorted(group.docs, key=lambda d: min(d.ranks.values()))[:25]:
            if doc.docid not in seen:
                seen.add(doc.docid)
                topic[doc.docid] = group.qid
                documents.append(Candidate(doc.docid, doc.text))
    folder = tmp_path_factory.mktemp("corpus")
    index = build_forward_index(documents, folder / "forward", "minilm-embed", chunk_size=64)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for d in documents:
            f.write(json.dumps({"docid": d.docid, "text": d.text}) + "\n")
    return documents, index, topic, folder


def test_samples_cover_the_clusters_and_pools_are_nearest_neighbours(topical_corpus):
    documents, index, topic, _ = topical_corpus
    vectors = corpus_vectors(documents, index)
    config = CorpusSampling(clusters=6, per_cluster=2, pool_size=8, seed=0)
    sample = sample_corpus(documents, vectors, config)
    assert len(sample.sources) == 12 and sum(sample.cluster_sizes) == len(documents)
    # clustering spreads the sample over the corpus's topics instead of its largest one
    assert len({topic[s.docid] for s in sample.sources}) >= 4
    position = {d.docid: i for i, d in enumerate(documents)}
    for group, source in zip(sample.groups, sample.sources):
        assert group.qid == source.qid and group.docs[0].docid == source.docid and len(group.docs) == 8
        cosines = vectors[[position[d.docid] for d in group.docs[1:]]] @ vectors[position[source.docid]]
        others = np.delete(vectors @ vectors[position[source.docid]], [position[d.docid] for d in group.docs])
        assert np.all(np.diff(cosines) <= 1e-6) and cosines.min() >= others.max() - 1e-6
    again = sample_corpus(documents, vectors, config)
    assert [s.id for s in again.sources] == [s.id for s in sample.sources]


def test_a_corpus_the_index_does_not_hold_is_refused(topical_corpus):
    documents, index, _, _ = topical_corpus
    with pytest.raises(InputError, match="the forward index lacks 1 of the corpus's"):
        corpus_vectors([*documents, Candidate("new", "a passage the index never saw")], index)
    with pytest.raises(InputError, match="fewer than pool_size=500"):
        sample_corpus(documents, corpus_vectors(documents, index), CorpusSampling(pool_size=500))


def test_the_command_writes_queries_for_a_corpus_with_the_users_examples(topical_corpus, tmp_path):
    pytest.importorskip("llama_cpp", reason="the llama.cpp backend needs the llama-cpp extra (make setup builds it)")
    _, _, _, folder = topical_corpus
    examples = tmp_path / "examples.jsonl"
    examples.write_text(
        json.dumps(
            {"passage": "Preheat the oven to 180 C and bake the loaf for 40 minutes.", "query": "bread baking time"}
        )
        + "\n"
    )
    arguments = [
        "train",
        "synthetic-queries",
        "--corpus",
        str(folder / "corpus.jsonl"),
        "--index",
        str(folder / "forward"),
    ]
    arguments += ["--queries", str(tmp_path / "q.jsonl"), "--out", str(tmp_path / "groups.jsonl")]
    arguments += ["--generator", "smollm2-135m", "--examples", str(examples)]
    arguments += ["-O", "clusters=2", "-O", "per_cluster=1", "-O", "pool_size=6", "-O", "max_new_tokens=12"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "2 passages sampled across 2 clusters" in result.output
    written = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert len(written) == 2 and all(entry["qid"].startswith("corpus:") for entry in written)
    bad = CliRunner().invoke(app, [*arguments[:-8], "--examples", str(tmp_path / "q.jsonl")])
    assert bad.exit_code == 2 and 'an example is {"passage": TEXT, "query": TEXT}' in bad.output
    neither = CliRunner().invoke(app, ["train", "synthetic-queries", "--queries", "q", "--out", "o"])
    assert neither.exit_code == 2 and "give --collection (judged pools), or --corpus with --index" in neither.output
