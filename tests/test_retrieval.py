import json

import pytest

from conftest import EXAMPLES
from rankwise import InputError
from rankwise.io.corpus import load_ir_dataset, read_corpus
from rankwise.pipelines.retrieve import BM25Index
from rankwise.types import Candidate, Query


@pytest.fixture(scope="module")
def flea_index(tmp_path_factory):
    from rankwise.io import read_documents

    folder = tmp_path_factory.mktemp("idx")
    BM25Index.build(read_documents(EXAMPLES / "fleas.jsonl")).save(folder)
    return folder


def test_search_finds_matching_documents_with_text(flea_index):
    index = BM25Index.load(flea_index)
    [request] = index.search([Query("q1", "flea market antiques")], k=3)
    assert request.candidates[0].docid == "flea-market"
    assert "antiques" in request.candidates[0].text
    scores = [c.score for c in request.candidates]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)


def test_stemming_matches_inflected_forms(flea_index):
    index = BM25Index.load(flea_index)
    [request] = index.search([Query("q", "feeding starters")], k=2)
    assert request.candidates[0].docid == "sourdough"
    [none] = index.search([Query("q", "zyzzyva")], k=5)
    assert none.candidates == []


def test_reopened_index_gives_identical_results(flea_index, tmp_path):
    from rankwise.io import read_documents

    fresh = BM25Index.build(read_documents(EXAMPLES / "fleas.jsonl"))
    reopened = BM25Index.load(flea_index)
    queries = [Query("a", "how long do fleas live"), Query("b", "cat lifespan")]
    for x, y in zip(fresh.search(queries, k=5), reopened.search(queries, k=5)):
        assert [(c.docid, round(c.score, 5)) for c in x.candidates] == [
            (c.docid, round(c.score, 5)) for c in y.candidates
        ]


def test_bad_corpora_are_reported(tmp_path):
    with pytest.raises(InputError, match="duplicate document id 'a'"):
        BM25Index.build([Candidate("a", "x"), Candidate("a", "y")])
    with pytest.raises(InputError, match="empty corpus"):
        BM25Index.build([])
    empty = tmp_path / "c.jsonl"
    empty.write_text('{"docid": "a", "text": "  "}\n')
    with pytest.raises(InputError, match=r"c\.jsonl:1: document 'a' has empty text"):
        read_corpus(empty)
    with pytest.raises(InputError, match="not a rankwise BM25 index"):
        BM25Index.load(tmp_path)


def test_tsv_and_beir_corpora(tmp_path):
    tsv = tmp_path / "c.tsv"
    tsv.write_text("d1\tfirst doc\nd2\tsecond doc\n")
    assert [d.docid for d in read_corpus(tsv).documents] == ["d1", "d2"]
    tsv.write_text("d1\tfirst\nd1\tagain\n")
    with pytest.raises(InputError, match=r"c\.tsv:2: duplicate document id 'd1'"):
        read_corpus(tsv)
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "title": "T", "text": "body"}) + "\n")
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "what"}) + "\n")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    collection = read_corpus(beir)
    assert collection.documents[0].text == "T\nbody"
    assert collection.queries == [Query("q1", "what")] and collection.qrels == {"q1": {"d1": 1}}


def test_ir_datasets_failure_is_a_clear_error():
    with pytest.raises(InputError, match="ir_datasets (is not installed|could not load 'no-such/dataset')"):
        load_ir_dataset("no-such/dataset")
