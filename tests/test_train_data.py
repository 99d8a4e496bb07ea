"""Training data from the real collections: dl21/dl22 pooled with grades, dl19 never emitted."""

import random

import pytest
from tests.conftest import data_path

from rankwise import InputError
from rankwise.pipelines.train.data import (
    HeldOut,
    build_query_groups,
    query_folds,
    read_groups,
    sample_windows,
    write_groups,
)


@pytest.fixture(scope="module")
def dl19_held_out():
    return HeldOut.from_collections([data_path("dl19")])


@pytest.fixture(scope="module")
def dl21_groups(dl19_held_out):
    return build_query_groups([data_path("dl21")], held_out=dl19_held_out)


def test_dl21_groups_pool_both_first_stages_with_grades(dl21_groups):
    groups = dl21_groups.groups
    assert len(groups) == 53
    judged = sum(len(g.judged) for g in groups)
    assert judged == 4531  # judged pairs that have passage text in the BM25 or SPLADE++ candidates
    assert sum(len(g.docs) for g in groups) == 9031
    first = groups[0]
    both = [d for d in first.docs if set(d.ranks) == {"bm25", "splade_pp_ed"}]
    assert both and all(1 <= r <= 100 for d in both for r in d.ranks.values())
    assert {d.grade for g in groups for d in g.judged} == {0, 1, 2, 3}


def test_builder_never_emits_dl19_content(dl19_held_out, tmp_path):
    report = build_query_groups([data_path("dl21"), data_path("dl22")], held_out=dl19_held_out)
    path = tmp_path / "groups.jsonl"
    write_groups(report.groups, path)
    groups = read_groups(path)
    assert len(groups) == 53 + 76
    qids = {g.qid for g in groups}
    assert not qids & dl19_held_out.qids
    assert not {" ".join(g.query.lower().split()) for g in groups} & dl19_held_out.query_texts
    texts = {" ".join(d.text.lower().split()) for g in groups for d in g.docs}
    assert not texts & dl19_held_out.passage_texts
    # One dl22 passage is word for word a dl19 candidate: it is dropped, not emitted.
    assert report.dropped_passages >= 1


def test_a_held_out_collection_is_refused_for_training(dl19_held_out):
    with pytest.raises(InputError, match="held out for evaluation"):
        build_query_groups([data_path("dl19")], held_out=dl19_held_out)


def test_queries_that_are_dl19_topics_are_dropped(dl19_held_out, write, tmp_path):
    # dl21's topics.tsv lists 35 dl19 queries; a candidate file built from such a topic must not train.
    import json

    folder = tmp_path / "leaky"
    folder.mkdir()
    entry = {
        "query": "how long is life cycle of flea",
        "hits": [{"qid": "999", "docid": "x1", "rank": 1, "score": 3.0, "content": "Fleas live for weeks."}],
    }
    (folder / "bm25_top100.json").write_text(json.dumps([entry]))
    report = build_query_groups([folder], held_out=dl19_held_out)
    assert report.groups == [] and report.dropped_queries == 1


def test_windows_show_shuffled_passages_with_gold_order_by_grade(dl21_groups):
    group = dl21_groups.groups[0]
    windows = sample_windows(group, size=10, count=3, rng=random.Random(0))
    assert len(windows) == 3
    grade = {d.docid: d.grade for d in group.docs}
    for window in windows:
        grades = [grade[window.docids[p]] for p in window.gold_order]
        assert grades == sorted(grades, reverse=True)
        assert sorted(window.gold_order) == list(range(10))
    assert windows[0].docids != windows[1].docids


def test_query_folds_partition_and_are_reproducible():
    qids = [str(i) for i in range(53)]
    folds = query_folds(qids, 5, seed=1)
    assert sorted(q for f in folds for q in f) == sorted(qids)
    assert folds == query_folds(reversed(qids), 5, seed=1)
    with pytest.raises(InputError, match="3 queries cannot be split into 5 folds"):
        query_folds(["a", "b", "c"], 5)
