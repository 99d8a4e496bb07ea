"""Teacher labels resume after a kill -9 and end byte-identical to an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from tests.conftest import ROOT, data_path

from rankwise import InputError
from rankwise.io import read_candidates
from rankwise.pipelines.train.teacher import label_with_teacher, read_teacher_labels


@pytest.fixture(scope="module")
def small_candidates(tmp_path_factory):
    """The first 8 dl21 queries with their BM25 top 10: small enough to label in seconds."""
    entries = json.loads(data_path("dl21", "bm25_top100.json").read_text())[:8]
    for entry in entries:
        entry["hits"] = entry["hits"][:10]
    path = tmp_path_factory.mktemp("teacher") / "candidates.json"
    path.write_text(json.dumps(entries))
    return path


def _label_command(candidates, output):
    return [
        sys.executable,
        "-m",
        "rankwise.cli",
        "label",
        "-m",
        "minilm-embed",
        "-i",
        str(candidates),
        "-o",
        str(output),
    ]


@pytest.mark.slow  # 13 s (a killed subprocess); resumable labelling is also test_batch's killed-job test
def test_resume_after_kill_gives_the_same_bytes(minilm, small_candidates, tmp_path):
    requests = read_candidates(small_candidates)
    whole = tmp_path / "whole.jsonl"
    assert label_with_teacher(minilm, requests, whole) == 8
    labels = read_teacher_labels(whole)
    assert list(labels) == [r.query.qid for r in requests]
    first = requests[0]
    expected = minilm.rerank_batch([first])[0]
    assert labels[first.query.qid] == {r.docid: r.score for r in expected.results}

    killed = tmp_path / "killed.jsonl"
    process = subprocess.Popen(
        _label_command(small_candidates, killed),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    deadline = time.time() + 300
    while time.time() < deadline and (not killed.exists() or killed.read_bytes().count(b"\n") < 2):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = killed.read_bytes().count(b"\n")
    assert 2 <= finished < 8, "the labelling should have been killed part-way"
    with open(killed, "ab") as f:  # the process died in the middle of writing a line
        f.write(b'{"qid": "torn", "sco')
    done_now = label_with_teacher(minilm, requests, killed)
    assert done_now == 8 - finished
    assert killed.read_bytes() == whole.read_bytes()


def test_labels_for_other_requests_are_refused(minilm, small_candidates, tmp_path):
    requests = read_candidates(small_candidates)
    path = tmp_path / "labels.jsonl"
    label_with_teacher(minilm, requests[:2], path)
    with pytest.raises(InputError, match="not a prefix of this run"):
        label_with_teacher(minilm, requests[1:], path)


def test_head_labels_score_only_the_selectors_best(minilm, small_candidates, tmp_path):
    from rankwise import Reranker

    requests = read_candidates(small_candidates)[:3]
    selector = Reranker.load("maxsim:minilm-embed")
    path = tmp_path / "head.jsonl"
    assert label_with_teacher(minilm, requests, path, head=(selector, 4)) == 3
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for request, line, selected in zip(requests, lines, selector.rerank_batch(requests)):
        best_four = [r.docid for r in selected.results[:4]]
        assert list(line["scores"]) == best_four  # the head, in the selector's order
        assert line["head"]["method"] == "maxsim" and line["head"]["k"] == 4
        by_id = {c.docid: c for c in request.candidates}
        alone = minilm.rerank(request.query.text, [by_id[d] for d in best_four])
        assert line["scores"] == pytest.approx({r.docid: r.score for r in alone.results}, abs=1e-5)
    # MaxSim and cosine disagree somewhere in these heads, so the head is not just the teacher's own top 4.
    cosine_tops = [[r.docid for r in ranking.results[:4]] for ranking in minilm.rerank_batch(requests)]
    assert any(set(t) != set(line["scores"]) for t, line in zip(cosine_tops, lines))


def test_an_empty_head_is_refused(minilm, small_candidates, tmp_path):
    requests = read_candidates(small_candidates)[:1]
    with pytest.raises(InputError, match="at least one candidate, got 0"):
        label_with_teacher(minilm, requests, tmp_path / "none.jsonl", head=(minilm, 0))


def test_label_command_with_a_head(small_candidates, tmp_path):
    from typer.testing import CliRunner

    from rankwise.cli import app

    output = tmp_path / "labels.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "label",
            "-m",
            "minilm-embed",
            "-i",
            str(small_candidates),
            "-o",
            str(output),
            "--head-by",
            "maxsim:minilm-embed",
            "--head-k",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    labels = read_teacher_labels(output)
    assert len(labels) == 8 and all(len(scores) == 3 for scores in labels.values())
    refused = CliRunner().invoke(
        app,
        [
            "label",
            "-m",
            "minilm-embed",
            "-i",
            str(small_candidates),
            "-o",
            str(tmp_path / "none.jsonl"),
            "--head-by",
            "maxsim:minilm-embed",
            "--head-k",
            "0",
        ],
    )
    assert refused.exit_code == 2 and "at least one candidate, got 0" in refused.output


def _dl22_groups():
    from rankwise.pipelines.train.data import build_query_groups

    return build_query_groups([data_path("dl22")]).groups


def test_teacher_labels_reach_the_training_sampler(tmp_path):
    from rankwise.pipelines.train.listwise_sampling import ListSampling, teacher_logits
    from rankwise.pipelines.train.teacher import attach_teacher_labels

    groups = _dl22_groups()
    group = groups[0]
    picked = [d.docid for d in group.docs[:3]]
    labels_file = tmp_path / "llm.jsonl"
    labels_file.write_text(
        json.dumps({"qid": group.qid, "teacher": {"method": "x"}, "scores": dict(zip(picked, [2.0, 0.0, -2.0]))})
        + "\n"
        + json.dumps({"qid": "not-a-training-query", "teacher": {}, "scores": {"d": 1.0}})
        + "\n"
    )
    assert attach_teacher_labels(groups, read_teacher_labels(labels_file), "llm") == (3, 1)
    logits = teacher_logits(group, ListSampling(teacher="llm"))
    # z-scores of 2, 0, -2: the teacher's order, on the teacher's passages only
    assert logits == pytest.approx(dict(zip(picked, [1.2247449, 0.0, -1.2247449])))
    assert teacher_logits(groups[1], ListSampling(teacher="llm")) == {}  # unlabelled query, no SPLADE++ fallback


def test_teacher_labels_outside_the_pools_are_counted_and_a_file_matching_nothing_is_refused(tmp_path):
    from rankwise.pipelines.train.teacher import attach_teacher_labels

    groups = _dl22_groups()
    with pytest.raises(InputError, match="none of its 1 queries is among the training queries"):
        attach_teacher_labels(groups, {"q-elsewhere": {"d": 1.0}}, "llm")
    inside = groups[0].docs[0].docid
    counts = attach_teacher_labels(groups, {groups[0].qid: {"msmarco_passage_00_0": 1.0, inside: 0.5}}, "llm")
    assert counts == (1, 1)
    assert groups[0].docs[0].scores["llm"] == 0.5


def test_training_commands_refuse_a_teacher_labels_option_without_a_key(tmp_path):
    from typer.testing import CliRunner

    from rankwise.cli import app

    result = CliRunner().invoke(
        app,
        [
            "train",
            "cross-encoder",
            "--collection",
            str(data_path("dl22")),
            "--out",
            str(tmp_path / "ce"),
            "--teacher-labels",
            "labels.jsonl",
        ],
    )
    assert result.exit_code == 2
    assert "--teacher-labels 'labels.jsonl' is not KEY=PATH" in result.output
