"""Training data in users' formats: each read into the same groups as the equivalent collection folder
(a few DL 2021 queries converted here), malformed input named by line and field, the held-out guard."""

from __future__ import annotations

import json

import pytest
from tests.conftest import judged_collection

from rankwise.errors import InputError
from rankwise.pipelines.train.data import HeldOut, build_query_groups
from rankwise.pipelines.train.formats import TEACHER_KEY, read_training_data


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """Six judged DL 2021 queries (BM25 top 30) as a collection folder, and their judged groups."""
    folder = judged_collection(tmp_path_factory.mktemp("formats") / "dl21-six", "dl21", queries=6, depth=30)
    groups = build_query_groups([folder], judged_only_queries=True).groups
    # What a judged collection teaches: each query's judged candidates and their grades.
    return folder, [g for g in groups if len({d.grade for d in g.judged}) > 1]


def judged_triples(groups):
    return {(g.query, d.text, d.grade) for g in groups for d in g.judged}


def best_grade_by_text(groups):
    """Passages without ids are known by their text: one text under two docids is one passage, best grade."""
    best = {}
    for g in groups:
        for d in g.judged:
            best[(g.query, d.text)] = max(best.get((g.query, d.text), d.grade), d.grade)
    return best


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_collection_folder_itself_reads_as_build_query_groups(collection):
    folder, groups = collection
    read = read_training_data(folder, judged_only_queries=True).groups
    assert judged_triples(read) >= judged_triples(groups)


def test_lists_with_labels_and_with_scores(collection, tmp_path):
    _, groups = collection
    labels = write_jsonl(
        tmp_path / "lists.jsonl",
        [
            {
                "qid": g.qid,
                "query": g.query,
                "passages": [{"id": d.docid, "text": d.text} for d in g.judged],
                "labels": [d.grade for d in g.judged],
            }
            for g in groups
        ],
    )
    read = read_training_data(labels).groups
    assert judged_triples(read) == judged_triples(groups)
    assert {(g.qid, d.docid) for g in read for d in g.docs} == {(g.qid, d.docid) for g in groups for d in g.judged}

    scores = write_jsonl(
        tmp_path / "scores.jsonl",
        [
            {"query": g.query, "passages": [d.text for d in g.judged], "scores": [d.grade * 1.5 for d in g.judged]}
            for g in groups
        ],
    )
    read = read_training_data(scores).groups
    assert all(d.grade is None for g in read for d in g.docs)
    # Passages without ids are known by their text: two docids with one text become one passage (the last
    # line's score).
    assert {(g.query, d.text): d.scores[TEACHER_KEY] for g in read for d in g.docs} == {
        (g.query, d.text): d.grade * 1.5 for g in groups for d in g.judged
    }


def test_triples_merge_by_query_and_grade_positives_relevant(collection, tmp_path):
    _, groups = collection
    rows = []
    for g in groups:
        positives = [d for d in g.judged if d.grade >= 2]
        negatives = [d.text for d in g.judged if d.grade == 0]
        for p in positives:  # one line per positive, as MS MARCO triples come
            rows.append({"query": g.query, "positive": p.text, "negatives": negatives[:3]})
    read = read_training_data(write_jsonl(tmp_path / "triples.jsonl", rows)).groups
    expected = {(g.query, d.text, 2) for g in groups for d in g.judged if d.grade >= 2}
    expected |= {
        (g.query, text, 0)
        for g in groups
        for text in [d.text for d in g.judged if d.grade == 0][:3]
        if any(d.grade >= 2 for d in g.judged)
    }
    assert judged_triples(read) == expected
    assert len(read) == len({r["query"] for r in rows})  # one group per query, its lines merged


def test_beir_and_trec_folders(collection, tmp_path):
    _, groups = collection
    docs = {d.docid: d.text for g in groups for d in g.judged}
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    write_jsonl(beir / "corpus.jsonl", [{"_id": k, "text": v} for k, v in docs.items()])
    write_jsonl(beir / "queries.jsonl", [{"_id": g.qid, "text": g.query} for g in groups])
    (beir / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{g.qid}\t{d.docid}\t{d.grade}\n" for g in groups for d in g.judged)
    )
    trec = tmp_path / "trec"
    trec.mkdir()
    write_jsonl(trec / "corpus.jsonl", [{"docid": k, "text": v} for k, v in docs.items()])
    (trec / "topics.tsv").write_text("".join(f"{g.qid}\t{g.query}\n" for g in groups))
    (trec / "qrels.txt").write_text("".join(f"{g.qid} 0 {d.docid} {d.grade}\n" for g in groups for d in g.judged))
    expected = {(g.qid, d.docid, d.grade) for g in groups for d in g.judged}
    for folder in (beir, trec):
        read = read_training_data(folder).groups
        assert {(g.qid, d.docid, d.grade) for g in read for d in g.docs} == expected, folder.name
        assert judged_triples(read) == judged_triples(groups)


def test_a_saved_datasets_folder(collection, tmp_path):
    datasets = pytest.importorskip("datasets")
    _, groups = collection
    rows = [
        {"query": g.query, "passages": [d.text for d in g.judged], "labels": [d.grade for d in g.judged]}
        for g in groups
    ]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "saved"))
    read = read_training_data(tmp_path / "saved").groups
    assert {(g.query, d.text): d.grade for g in read for d in g.docs} == best_grade_by_text(groups)


@pytest.mark.parametrize(
    "lines, message",
    [
        (
            [{"query": "q", "positive": "p", "negatives": ["n"]}, {"query": "q2", "positive": "p"}],
            r"bad\.jsonl:2: missing field 'negatives' \(a triple is query, positive, negatives\)",
        ),
        (
            [{"query": "q", "passages": ["a", "b"], "labels": [1]}],
            r"bad\.jsonl:1: field 'labels' must be a list with one value per passage \(2\)",
        ),
        (
            [{"query": "q", "passages": ["a"], "labels": [0.5]}],
            r"bad\.jsonl:1: labels\[0\] = 0\.5 is not an integer grade",
        ),
        (
            [{"question": "q", "answer": "a"}],
            r"bad\.jsonl:1: neither a triple \(query, positive, negatives\) nor a list \(query, passages, labels or "
            r"scores\); its fields are answer, question",
        ),
        ([{"query": " ", "passages": ["a"], "scores": [1.0]}], r"bad\.jsonl:1: missing field 'query'"),
        (
            [{"query": "q", "positive": "p", "negatives": []}, {"query": "q", "passages": ["a"], "labels": [1]}],
            r"bad\.jsonl:2: a list in a file of triples",
        ),
    ],
)
def test_malformed_lines_name_the_line_and_field(tmp_path, lines, message):
    with pytest.raises(InputError, match=message):
        read_training_data(write_jsonl(tmp_path / "bad.jsonl", lines))


def test_a_folder_of_no_known_format_says_what_is_expected(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(
        InputError, match="a folder of no training format rankwise reads; expected a collection folder .*JSONL triples"
    ):
        read_training_data(tmp_path)
    with pytest.raises(InputError, match="training data not found"):
        read_training_data(tmp_path / "missing.jsonl")


def test_held_out_queries_and_passages_never_reach_training(collection, tmp_path):
    folder, groups = collection
    held = HeldOut.from_collections([folder])
    rows = [
        {"query": groups[0].query, "positive": groups[0].judged[0].text, "negatives": ["unrelated text"]},
        {"query": "a query of my own", "positive": groups[1].judged[0].text, "negatives": ["other text"]},
    ]
    report = read_training_data(write_jsonl(tmp_path / "triples.jsonl", rows), held_out=held)
    assert report.dropped_queries == 1 and report.dropped_passages == 1
    assert judged_triples(report.groups) == {("a query of my own", "other text", 0)}
    with pytest.raises(InputError, match="held out for evaluation"):
        read_training_data(folder, held_out=held)


def test_train_on_triples_with_dev_evaluation_keeps_the_best_checkpoint(collection, tmp_path):
    """The end to end demonstration: DL 2021 queries converted to triples train a cross-encoder, other DL 2021
    queries as a lists file are the dev set, evaluated during training, and the kept model reranks."""
    from typer.testing import CliRunner

    from rankwise import Reranker
    from rankwise.cli import app

    _, groups = collection
    train, dev = groups[:4], groups[4:]
    triples = write_jsonl(
        tmp_path / "triples.jsonl",
        [
            {"query": g.query, "positive": p.text, "negatives": [d.text for d in g.judged if d.grade == 0][:6]}
            for g in train
            for p in [d for d in g.judged if d.grade >= 2][:3]
        ],
    )
    lists = write_jsonl(
        tmp_path / "dev.jsonl",
        [
            {
                "qid": g.qid,
                "query": g.query,
                "passages": [d.text for d in g.judged][:20],
                "labels": [d.grade for d in g.judged][:20],
            }
            for g in dev
        ],
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "cross-encoder",
            "--train",
            str(triples),
            "--dev",
            str(lists),
            "--out",
            str(out),
            "--eval-steps",
            "3",
            "-O",
            "group_size=4",
            "-O",
            "group_head=1",
            "-O",
            "head=1",
            "-O",
            "examples_per_query=4",
            "-O",
            "epochs=1",
            "-O",
            "batch_size=2",
            "-O",
            "max_seq_length=64",
            "-O",
            "checkpoint_steps=3",
        ],
    )
    assert result.exit_code == 0, result.output
    record = json.loads((out / "model" / "training.json").read_text())
    evaluations = record["config"]["dev"]["evaluations"]
    assert record["queries"] == 4 and record["steps"] >= 6
    assert [e["step"] for e in evaluations] == [3, 6] and all(0 <= e["ndcg@10"] <= 1 for e in evaluations)
    assert record["config"]["dev"]["best_ndcg@10"] == max(e["ndcg@10"] for e in evaluations)
    assert "dev nDCG@10" in result.output and "dev_ndcg@10" in (out / "log.csv").read_text().splitlines()[0]
    ranking = Reranker.load(str(out / "model"), method="cross-encoder").rerank(
        dev[0].query, [d.text for d in dev[0].judged][:10]
    )
    assert len(ranking.results) == 10

    bad = CliRunner().invoke(
        app, ["train", "cross-encoder", "--train", str(triples), "--out", str(tmp_path / "x"), "--patience", "2"]
    )
    assert bad.exit_code != 0 and "--patience stops on the dev nDCG@10: give --dev" in bad.output


def test_mined_negatives_skip_a_likely_false_negative_and_read_back_as_triples(flea_docs, tmp_path, minilm):
    from rankwise.pipelines.train.data import PooledDoc, QueryGroup
    from rankwise.pipelines.train.mining import MiningReport, mine_hard_negatives

    positive = flea_docs[0]
    # An unjudged paraphrase of the positive: what a judged collection leaves unlabelled and a miner must not
    # teach as a negative.
    paraphrase = PooledDoc(
        "copy",
        "Adult fleas usually live two to three months; without a host only a few "
        "days, but some adults live more than a year.",
        None,
    )
    group = QueryGroup(
        "toy",
        "q1",
        "how long do fleas live",
        [PooledDoc(positive.docid, positive.text, 3), paraphrase]
        + [PooledDoc(d.docid, d.text, None) for d in flea_docs[1:]],
    )
    scores = {
        r.docid: r.score
        for r in minilm.rerank(
            "how long do fleas live",
            [positive] + [d for d in flea_docs[1:]] + [type(positive)("copy", paraphrase.text)],
        ).results
    }
    assert scores["copy"] > scores[positive.docid] - 0.1  # the teacher sees it as relevant as the positive
    report = MiningReport()
    rows = list(mine_hard_negatives([group], minilm, negatives=3, margin=0.1, report=report))
    assert len(rows) == 1 and report.queries == 1 and report.positives == 1
    kept = [n["id"] for n in rows[0]["negatives"]]
    expected = [
        d
        for d in sorted(scores, key=lambda d: -scores[d])
        if d != positive.docid and scores[d] <= scores[positive.docid] - 0.1
    ][:3]
    assert kept == expected and "copy" not in kept
    assert report.dropped_as_false_negatives == sum(
        1 for d, s in scores.items() if d != positive.docid and s > scores[positive.docid] - 0.1
    )
    unguarded = list(mine_hard_negatives([group], minilm, negatives=3, margin=None))
    assert "copy" in [n["id"] for n in unguarded[0]["negatives"]]

    path = write_jsonl(tmp_path / "mined.jsonl", rows)
    read = read_training_data(path).groups
    assert {(d.docid, d.grade) for d in read[0].docs} == {(positive.docid, 2)} | {(d, 0) for d in kept}


@pytest.mark.parametrize("negatives", [3, 1])
def test_ms_marco_triples_train_at_the_default_group_size_and_evaluate_as_dev(collection, tmp_path, negatives):
    """Issue 39: one positive and three negatives (or one) per query trained nothing (the default list needs 8
    passages), and triples as --dev never evaluated (a positive graded 1 was never relevant at level 2)."""
    from typer.testing import CliRunner

    from rankwise.cli import app

    _, groups = collection

    def triples(chosen):
        return [
            {"query": g.query, "positive": p.text, "negatives": [d.text for d in g.judged if d.grade == 0][:negatives]}
            for g in chosen
            for p in [d for d in g.judged if d.grade >= 2][:1]
        ]

    train = write_jsonl(tmp_path / "train.jsonl", triples(groups[:4]))
    dev = write_jsonl(tmp_path / "dev.jsonl", triples(groups[4:7]))
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "cross-encoder",
            "--train",
            str(train),
            "--dev",
            str(dev),
            "--out",
            str(out),
            "--eval-steps",
            "1",
            "-O",
            "epochs=1",
            "-O",
            "batch_size=2",
            "-O",
            "max_seq_length=64",
            "-O",
            "checkpoint_steps=1",
        ],
    )
    assert result.exit_code == 0, result.output
    record = json.loads((out / "model" / "training.json").read_text())
    assert record["queries"] == 4 and record["steps"] == 2  # four lists of 1 + negatives passages, two per batch
    assert [e["step"] for e in record["config"]["dev"]["evaluations"]] == [1, 2]


def test_first_trains_on_lists_shorter_than_its_window():
    from rankwise.pipelines.train.data import PooledDoc, QueryGroup
    from rankwise.pipelines.train.first import FirstTrainingConfig, window_plan

    group = QueryGroup(
        "c",
        "q1",
        "how long do fleas live",
        [PooledDoc("p", "Fleas live months.", grade=2), PooledDoc("n", "Bread.", grade=0)],
    )
    plan = window_plan([group], FirstTrainingConfig(window=10, steps=2, accumulation=1))
    assert [len(w.passages) for w in plan] == [2, 2]
