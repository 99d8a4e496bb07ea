"""Synthetic queries: sampling, cleaning, resumable generation with a real GGUF model, and the round-trip
filter with real MiniLM token states on DL 2022 pools."""

import pytest
from tests.conftest import data_path

from rankwise import InputError
from rankwise.backends.interface import Capability
from rankwise.backends.options import RuntimeOptions, TransformersOptions
from rankwise.backends.registry import locate, open_backend
from rankwise.io.lines import iter_jsonl
from rankwise.pipelines.train.data import HeldOut, PooledDoc, QueryGroup, build_query_groups, without_held_out
from rankwise.pipelines.train.late_interaction import LateInteractionTrainingConfig
from rankwise.pipelines.train.listwise_sampling import teacher_logits
from rankwise.pipelines.train.synthetic import (
    SYNTHETIC_TEACHER,
    SyntheticQueryConfig,
    clean_query,
    generate_queries,
    round_trip_groups,
    sample_sources,
)


@pytest.fixture(scope="module")
def dl22_groups():
    return build_query_groups([data_path("dl22")], held_out=HeldOut.from_collections([data_path("dl19")])).groups[:3]


def test_clean_query_keeps_queries_and_refuses_the_rest():
    passage = "Croque monsieur is a hot sandwich made with ham and cheese, fried or baked in a pan."
    assert clean_query('Query: "what is a croque monsieur"\nextra line', passage) == "what is a croque monsieur"
    assert clean_query("  how to   make\tcroque monsieur ", passage) == "how to make croque monsieur"
    assert clean_query("monsieur", passage) is None  # one word
    assert clean_query("", passage) is None
    assert clean_query("1 2 3", passage) is None  # no letters
    assert clean_query("is a hot sandwich made with ham and cheese", passage) is None  # copied from the passage
    assert clean_query(" ".join(["word"] * 21), passage) is None


def test_sources_come_from_each_pool_head_and_repeat_with_the_seed(dl22_groups):
    config = SyntheticQueryConfig(per_query=5, from_top=10)
    sources = sample_sources(dl22_groups, config)
    assert len(sources) == 15
    assert sources == sample_sources(dl22_groups, config)
    assert sources != sample_sources(dl22_groups, SyntheticQueryConfig(per_query=5, from_top=10, seed=1))
    for group in dl22_groups:
        head = sorted(group.docs, key=lambda d: min(d.ranks.values()))[:10]
        picked = [s.docid for s in sources if s.qid == group.qid]
        assert len(set(picked)) == 5 and set(picked) <= {d.docid for d in head}


@pytest.mark.slow  # 9.5 s
def test_generation_resumes_to_the_same_file(dl22_groups, tmp_path):
    pytest.importorskip("llama_cpp", reason="the llama.cpp backend needs the llama-cpp extra (make setup builds it)")
    lm = open_backend(
        locate("smollm2-135m", "llama.cpp"),
        RuntimeOptions(backend="llama.cpp"),
        frozenset({Capability.GENERATE}),
        "test",
    )
    config = SyntheticQueryConfig(per_query=2, max_new_tokens=12, max_passage_tokens=96)
    sources = sample_sources(dl22_groups[:2], config)
    whole = tmp_path / "whole.jsonl"
    assert generate_queries(lm, sources, whole, config) == 4
    entries = [entry for _, entry in iter_jsonl(whole)]
    assert [e["id"] for e in entries] == [s.id for s in sources]
    assert all(e["answer"].strip() for e in entries)
    assert all(e["query"] is None or e["query"] == clean_query(e["answer"], s.text) for e, s in zip(entries, sources))

    partial = tmp_path / "partial.jsonl"
    lines = whole.read_bytes().splitlines(keepends=True)
    partial.write_bytes(b"".join(lines[:1]) + lines[1][:17])  # killed in the middle of the second line
    assert generate_queries(lm, sources, partial, config) == 3
    assert partial.read_bytes() == whole.read_bytes()
    with pytest.raises(InputError, match="not a prefix"):
        generate_queries(lm, sources[1:], partial, config)


def test_round_trip_keeps_answerable_queries_and_lifts_the_source(dl22_groups):
    encoder = open_backend(
        locate("minilm-embed", None), TransformersOptions(), frozenset({Capability.TOKEN_EMBED}), "test"
    )
    group = dl22_groups[0]
    source = sorted(group.docs, key=lambda d: min(d.ranks.values()))[0]
    own_words = " ".join(source.text.split()[:10])
    generated = [
        # A query made of the passage's own opening words: the passage must win its own pool's round trip.
        {"id": f"{group.qid}:{source.docid}", "qid": group.qid, "docid": source.docid, "query": own_words},
        # A query about something else entirely: its source passage cannot win the round trip.
        {
            "id": f"{group.qid}:x",
            "qid": group.qid,
            "docid": group.docs[-1].docid,
            "query": "boiling point of liquid nitrogen in kelvin",
        },
        {"id": f"{group.qid}:y", "qid": group.qid, "docid": source.docid, "query": None},
    ]
    config = SyntheticQueryConfig(keep_rank=3, positive_margin=1.0)
    report = round_trip_groups(encoder, dl22_groups, generated, config)
    assert (report.generated, report.unusable) == (3, 1)
    assert report.source_ranks[0] <= 3 < report.source_ranks[1] and report.rejected == 1
    assert [g.qid for g in report.groups] == [f"{group.qid}:{source.docid}"]
    synthetic = report.groups[0]
    assert synthetic.collection == "synthetic:dl22" and synthetic.query == own_words
    labels = {d.docid: d.scores[SYNTHETIC_TEACHER] for d in synthetic.docs}
    others = [v for docid, v in labels.items() if docid != source.docid]
    assert labels[source.docid] >= max(others) + 1.0 - 1e-9
    # Training reads these labels through the default teacher keys.
    logits = teacher_logits(synthetic, LateInteractionTrainingConfig())
    assert max(logits, key=logits.get) == source.docid and len(logits) == len(group.docs)

    # Kept at any rank, a source passage that MaxSim puts low is lifted exactly to the margin above the best.
    everything = round_trip_groups(encoder, dl22_groups, generated, SyntheticQueryConfig(keep_rank=10**6))
    unrelated = everything.groups[1]
    lifted = {d.docid: d.scores[SYNTHETIC_TEACHER] for d in unrelated.docs}
    best_other = max(v for docid, v in lifted.items() if docid != group.docs[-1].docid)
    assert lifted[group.docs[-1].docid] == pytest.approx(best_other + 1.0)

    with pytest.raises(InputError, match="not in the training collections"):
        round_trip_groups(encoder, dl22_groups[1:], generated[:1], config)


def test_groups_from_files_lose_held_out_content():
    held = HeldOut(qids={"q-held"}, passage_texts={"secret passage"})
    groups = [
        QueryGroup("x", "q-held", "a query", []),
        QueryGroup("x", "q1", "another", [PooledDoc("d1", "Secret   passage", None), PooledDoc("d2", "fine", None)]),
    ]
    report = without_held_out(groups, held)
    assert [g.qid for g in report.groups] == ["q1"]
    assert [d.docid for d in report.groups[0].docs] == ["d2"]
    assert (report.dropped_queries, report.dropped_passages) == (1, 1)
