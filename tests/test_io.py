import json

import pytest

from conftest import data_path
from rankwise import InputError, Query
from rankwise.io import (
    iter_candidates,
    read_candidates,
    read_documents,
    read_qrels,
    read_run,
    read_topics,
    write_candidates,
    write_run,
)
from rankwise.types import Ranking, Request

ENTRY = {
    "query": "do goldfish grow",
    "hits": [
        {"qid": 7, "docid": "d1", "rank": 1, "score": 9.5, "content": "Goldfish grow with their tank."},
        {"qid": 7, "docid": "d2", "rank": 2, "score": 8.0, "content": "Bluetooth is a radio standard."},
    ],
}


def test_candidates_round_trip(write, tmp_path):
    requests = read_candidates(write("c.json", [ENTRY]))
    assert requests[0].query == Query("7", "do goldfish grow")
    assert [c.docid for c in requests[0].candidates] == ["d1", "d2"]
    assert requests[0].candidates[0].score == 9.5
    ranking = Ranking.from_scores(requests[0], [0.1, 0.2])
    write_candidates([ranking], tmp_path / "out.json")
    again = json.loads((tmp_path / "out.json").read_text())
    assert again[0]["hits"][0] == {
        "qid": "7",
        "docid": "d2",
        "rank": 1,
        "score": 0.2,
        "content": "Bluetooth is a radio standard.",
    }


def test_candidates_jsonl_reports_the_bad_line(write):
    path = write("c.jsonl", json.dumps(ENTRY) + "\n" + '{"query": "x", "hits": [\n')
    with pytest.raises(InputError, match=r"c\.jsonl:2: malformed JSON"):
        read_candidates(path)


def test_candidates_malformed_json_names_file_and_line(write):
    path = write("bad.json", '[\n {"query": "q",\n  "hits": [}\n]')
    with pytest.raises(InputError, match=r"bad\.json:3: malformed JSON"):
        read_candidates(path)


def test_candidates_duplicate_docid_names_entry(write):
    entry = {"query": "q", "hits": [ENTRY["hits"][0], ENTRY["hits"][0]]}
    with pytest.raises(InputError, match=r"entry 0: query '7': duplicate docid 'd1' at position 1"):
        read_candidates(write("dup.json", [entry]))


@pytest.mark.parametrize(
    "entry, problem",
    [
        ({"query": "", "hits": []}, "empty query"),
        ({"hits": []}, "missing 'query'"),
        ({"query": "q"}, "missing 'hits'"),
        ({"query": "q", "hits": [{"docid": "a"}]}, "hit 0 \\(docid a\\) has no 'content'"),
        ({"query": "q", "hits": [{"content": "t"}]}, "hit 0 has no docid"),
        ({"query": "q", "hits": [{"docid": "a", "content": "t", "score": "high"}]}, "non-numeric score"),
        (
            {
                "query": "q",
                "hits": [{"qid": 1, "docid": "a", "content": "t"}, {"qid": 2, "docid": "b", "content": "t"}],
            },
            "different query ids",
        ),
    ],
)
def test_candidates_structural_errors(write, entry, problem):
    with pytest.raises(InputError, match=problem):
        read_candidates(write("c.json", [entry]))


def test_candidates_non_utf8_names_line(write):
    path = write("latin.jsonl", json.dumps(ENTRY).encode() + b"\n" + b'{"query": "caf\xe9", "hits": []}\n')
    with pytest.raises(InputError, match=r"latin\.jsonl:2: not valid UTF-8"):
        read_candidates(path)


def test_jsonl_candidates_stream_one_line_at_a_time(write):
    second = {**ENTRY, "hits": [{**h, "qid": 8} for h in ENTRY["hits"]]}
    path = write("stream.jsonl", "\n".join([json.dumps(ENTRY), json.dumps(second), "{broken"]) + "\n")
    stream = iter_candidates(path)
    # The first two queries arrive before the broken third line is read: nothing waits for the whole file.
    assert next(stream).query.qid == "7" and next(stream).query.qid == "8"
    with pytest.raises(InputError, match=r"stream\.jsonl:3: malformed JSON"):
        next(stream)


def test_candidates_missing_file_is_reported(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_candidates(tmp_path / "nope.json")


def test_dl19_candidates_load():
    requests = read_candidates(data_path("dl19", "bm25_top100.json"))
    assert len(requests) == 43
    assert all(len(r.candidates) == 100 for r in requests)
    assert requests[0].query.text == "how long is life cycle of flea"


def test_run_round_trip_and_errors(write, tmp_path):
    request = Request.build(Query("q1", "x"), ["a", "b"])
    write_run([Ranking.from_scores(request, [1.0, 2.0])], tmp_path / "r.trec", tag="mine")
    lines = (tmp_path / "r.trec").read_text().splitlines()
    assert lines == ["q1 Q0 1 1 2.000000 mine", "q1 Q0 0 2 1.000000 mine"]
    assert read_run(tmp_path / "r.trec") == {"q1": {"1": 2.0, "0": 1.0}}
    with pytest.raises(InputError, match=r"r2\.trec:2: expected 6 fields"):
        read_run(write("r2.trec", "q Q0 d 1 1.0 t\nq Q0 d 2\n"))
    with pytest.raises(InputError, match=r"r3\.trec:2: duplicate docid 'd'"):
        read_run(write("r3.trec", "q Q0 d 1 1.0 t\nq Q0 d 2 0.5 t\n"))
    with pytest.raises(InputError, match="is not a number"):
        read_run(write("r4.trec", "q Q0 d one 1.0 t\n"))
    with pytest.raises(InputError, match="must be one word"):
        write_run([], tmp_path / "x.trec", tag="two words")


def test_qrels_and_topics(write):
    assert read_qrels(write("q.txt", "1 0 a 2\n1 0 b 0\n2 0 a 1\n")) == {"1": {"a": 2, "b": 0}, "2": {"a": 1}}
    with pytest.raises(InputError, match=r"q2\.txt:1: relevance 'high' is not an integer"):
        read_qrels(write("q2.txt", "1 0 a high\n"))
    with pytest.raises(InputError, match=r"q3\.txt:1: expected 4 fields"):
        read_qrels(write("q3.txt", "1 a 2\n"))
    assert read_topics(write("t.tsv", "1\tdo goldfish grow\n2\twhat is wifi\n"))[1] == Query("2", "what is wifi")
    with pytest.raises(InputError, match=r"t2\.tsv:2: query '2' is empty"):
        read_topics(write("t2.tsv", "1\tok\n2\t  \n"))
    with pytest.raises(InputError, match=r"t3\.tsv:1: expected 'qid<TAB>query'"):
        read_topics(write("t3.tsv", "1 no tab here\n"))
    with pytest.raises(InputError, match=r"t4\.tsv:2: duplicate query id '1'"):
        read_topics(write("t4.tsv", "1\ta\n1\tb\n"))


def test_dl19_qrels_and_topics_load():
    qrels = read_qrels(data_path("dl19", "qrels.txt"))
    topics = read_topics(data_path("dl19", "topics.tsv"))
    assert len(topics) == 43 and set(qrels) == {t.qid for t in topics}


def test_documents_accept_the_common_shapes(write):
    path = write(
        "d.jsonl",
        "\n".join(
            [
                json.dumps({"docid": "a", "text": "alpha"}),
                json.dumps({"id": 2, "contents": "beta"}),
                json.dumps({"_id": "c", "title": "Gamma", "text": "body"}),
                "",
            ]
        ),
    )
    docs = read_documents(path)
    assert [(d.docid, d.text) for d in docs] == [("a", "alpha"), ("2", "beta"), ("c", "Gamma\nbody")]
    assert docs[2].metadata == {"title": "Gamma"}


@pytest.mark.parametrize(
    "lines, problem",
    [
        (
            ['{"docid": "a", "text": "x"}', '{"docid": "a", "text": "y"}'],
            r":2: duplicate document id 'a' \(first on line 1\)",
        ),
        (['{"text": "x"}'], r":1: no document id"),
        (['{"docid": "a"}'], r":1: document 'a' has no text"),
        (['["not", "an", "object"]'], r":1: expected a JSON object"),
        (['{"docid": "a", "text": 5}'], r":1: document 'a': text and title must be strings"),
        (['{"docid": "a", "text": "x"}', '{"docid": "b", "text": '], r":2: malformed JSON"),
    ],
)
def test_documents_errors_name_the_line(write, lines, problem):
    with pytest.raises(InputError, match=r"docs\.jsonl" + problem):
        read_documents(write("docs.jsonl", "\n".join(lines)))


def test_a_collection_folder_is_read_in_one_place():
    from rankwise.errors import InputError
    from rankwise.io.collection import Collection
    from rankwise.pipelines.bench import run_bench

    dl21 = Collection.open(data_path("dl21"))
    assert dl21.first_stages() == ["bm25", "splade_pp_ed"] and dl21.judged
    assert len(dl21.qrels()) == 53 and len(dl21.candidates("bm25")) == 53 and len(dl21.topics()) == 477
    dl22 = Collection.open(data_path("dl22"))
    assert not dl22.judged and dl22.qrels() == {}
    with pytest.raises(InputError, match="fusion training needs judged queries"):
        dl22.qrels(required="fusion training")
    with pytest.raises(InputError, match="no monot5 candidates"):
        dl21.candidates("monot5")
    with pytest.raises(InputError, match="collection folder not found"):
        Collection.open(data_path("dl21") / "missing")
    with pytest.raises(InputError, match="a bench needs judged queries"):
        run_bench(data_path("dl22"), [], "/tmp/unused-bench")
