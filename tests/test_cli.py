import json

import pytest
from typer.testing import CliRunner

from conftest import EXAMPLES, data_path
from rankwise.cli import app

runner = CliRunner()


def test_rerank_query_with_docs_prints_ranked_list():
    result = runner.invoke(
        app,
        [
            "rerank",
            "--model",
            "minilm-embed",
            "--query",
            "how long do fleas live",
            "--docs",
            str(EXAMPLES / "fleas.jsonl"),
            "--top-n",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "flea-" in line or "tick" in line]
    assert "flea-lifespan" in lines[0]


def test_rerank_file_writes_trec_run_and_json_then_eval(tmp_path):
    candidates = data_path("dl19", "bm25_top100.json")
    run, js = tmp_path / "run.trec", tmp_path / "run.json"
    result = runner.invoke(
        app,
        [
            "rerank",
            "-m",
            "minilm-embed",
            "-i",
            str(candidates),
            "-o",
            str(run),
            "--output-json",
            str(js),
            "--queries",
            "2",
            "--top-k",
            "20",
            "--tag",
            "emb",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 queries, 40 documents reranked" in result.output
    lines = run.read_text().splitlines()
    assert len(lines) == 200 and lines[0].endswith(" emb")
    assert len(json.loads(js.read_text())[0]["hits"]) == 100
    evaluated = runner.invoke(app, ["eval", "--run", str(run), "--qrels", str(data_path("dl19", "qrels.txt"))])
    assert evaluated.exit_code == 0, evaluated.output
    assert "nDCG@10" in evaluated.output and "MAP@100" in evaluated.output and "R@100" in evaluated.output


def test_bad_input_exits_2_with_a_message_not_a_traceback(tmp_path):
    bad = tmp_path / "docs.jsonl"
    bad.write_text('{"docid": "a", "text": "x"}\n{"docid": "a", "text": "y"}\n')
    result = runner.invoke(app, ["rerank", "-m", "minilm-embed", "-q", "fleas", "--docs", str(bad)])
    assert result.exit_code == 2
    assert "duplicate document id 'a'" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["rerank", "-m", "minilm-embed", "-q", "fleas"])
    assert result.exit_code == 2 and "--query needs --docs" in result.output
    result = runner.invoke(app, ["rerank", "-m", "nope-model", "-q", "fleas", "--docs", str(bad)])
    assert result.exit_code == 2


def test_models_lists_registered_models_and_presence():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    for name in ("minilm-embed", "smollm2-135m", "qwen2.5-coder-0.5b"):
        assert name in result.output


@pytest.mark.slow  # 18 s; each command is tested alone in the default run
def test_index_search_rerank_eval_from_a_raw_corpus(tmp_path):
    """dl19's candidate passages as a small corpus: index, search, rerank, evaluate, all through the CLI."""
    from rankwise.io import read_candidates

    corpus = tmp_path / "corpus.jsonl"
    seen = {}
    for request in read_candidates(data_path("dl19", "bm25_top100.json")):
        for c in request.candidates:
            seen.setdefault(c.docid, c.text)
    corpus.write_text("".join(json.dumps({"docid": d, "text": t}) + "\n" for d, t in seen.items()))
    assert runner.invoke(app, ["index", "--corpus", str(corpus), "--out", str(tmp_path / "idx")]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "search",
            "--index",
            str(tmp_path / "idx"),
            "--topics",
            str(data_path("dl19", "topics.tsv")),
            "--k",
            "100",
            "--output",
            str(tmp_path / "cand.json"),
            "--run",
            str(tmp_path / "bm25.trec"),
        ],
    )
    assert result.exit_code == 0, result.output
    candidates = json.loads((tmp_path / "cand.json").read_text())
    assert len(candidates) == 43 and all(0 < len(e["hits"]) <= 100 for e in candidates)
    result = runner.invoke(
        app,
        [
            "rerank",
            "-m",
            "minilm-embed",
            "-i",
            str(tmp_path / "cand.json"),
            "-o",
            str(tmp_path / "emb.trec"),
            "--top-k",
            "10",
            "--tag",
            "minilm",
        ],
    )
    assert result.exit_code == 0, result.output
    qrels = str(data_path("dl19", "qrels.txt"))
    result = runner.invoke(
        app,
        [
            "eval",
            "--qrels",
            qrels,
            "--run",
            str(tmp_path / "emb.trec"),
            "--baseline",
            str(tmp_path / "bm25.trec"),
            "--markdown",
            str(tmp_path / "t.md"),
            "--csv",
            str(tmp_path / "t.csv"),
            "--plot",
            str(tmp_path / "p.png"),
            "--trials",
            "2000",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "t.csv").read_text().splitlines()
    assert rows[1].startswith("bm25.trec,") and rows[2].startswith("minilm,")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_bench_runs_a_matrix_and_writes_runs_with_sidecars(tmp_path):
    result = runner.invoke(
        app,
        [
            "bench",
            "--dataset",
            str(data_path("dl19")),
            "--rerankers",
            "minilm-embed,embedding:minilm-embed",
            "--top-k",
            "10",
            "--queries",
            "3",
            "--out-dir",
            str(tmp_path / "runs"),
            "--markdown",
            str(tmp_path / "b.md"),
        ],
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert names == [
        "bm25.trec",
        "bm25.trec.meta.json",
        "embedding__minilm-embed.trec",
        "embedding__minilm-embed.trec.meta.json",
        "minilm-embed.trec",
        "minilm-embed.trec.meta.json",
    ]
    meta = json.loads((tmp_path / "runs" / "minilm-embed.trec.meta.json").read_text())
    assert meta["method"] == "embedding" and meta["queries"] == 3 and meta["seconds_per_query"] > 0
    table = (tmp_path / "b.md").read_text()
    assert "| bm25 |" in table and "baseline" in table and "| minilm-embed |" in table


def test_eval_warns_about_query_set_differences(tmp_path):
    run = tmp_path / "r.trec"
    run.write_text("1037798 Q0 x 1 1.0 t\n999999 Q0 y 1 1.0 t\n")
    result = runner.invoke(app, ["eval", "--qrels", str(data_path("dl19", "qrels.txt")), "--run", str(run)])
    assert result.exit_code == 0, result.output
    assert "42 judged queries missing from the run" in result.output
    assert "1 queries without judgments ignored: 999999" in result.output


def test_method_options_reach_the_reranker(monkeypatch):
    from rankwise.api import Reranker
    from rankwise.cli.common import parse_options

    assert parse_options(["window=4", "stride=2", "alphabet=numeric", "truncate=false"]) == {
        "window": 4,
        "stride": 2,
        "alphabet": "numeric",
        "truncate": False,
    }
    loaded, rankings = [], []
    real_load = Reranker.load

    def recording_load(*args, **kwargs):
        reranker = real_load(*args, **kwargs)
        real_rerank = reranker.rerank

        def recording_rerank(*a, **k):
            rankings.append(real_rerank(*a, **k))
            return rankings[-1]

        reranker.rerank = recording_rerank
        loaded.append(reranker)
        return reranker

    monkeypatch.setattr(Reranker, "load", staticmethod(recording_load))
    result = runner.invoke(
        app,
        [
            "rerank",
            "-m",
            "smollm2-135m",
            "--method",
            "first",
            "-O",
            "window=4",
            "-O",
            "stride=2",
            "-q",
            "how long do fleas live",
            "--docs",
            str(EXAMPLES / "fleas.jsonl"),
            "--top-n",
            "8",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (loaded[0].window, loaded[0].stride) == (4, 2)
    # 8 documents, window 4, stride 2: windows [4, 8), [2, 6), [0, 4), bottom up.
    assert [(w["start"], w["end"]) for w in rankings[0].trace["windows"]] == [(4, 8), (2, 6), (0, 4)]
    result = runner.invoke(
        app,
        [
            "rerank",
            "-m",
            "smollm2-135m",
            "--method",
            "first",
            "-O",
            "window=four",
            "-q",
            "x",
            "--docs",
            str(EXAMPLES / "fleas.jsonl"),
        ],
    )
    assert result.exit_code == 2 and "option window must be an integer, got str 'four'" in result.output
    result = runner.invoke(
        app, ["rerank", "-m", "minilm-embed", "-O", "bogus", "-q", "x", "--docs", str(EXAMPLES / "fleas.jsonl")]
    )
    assert result.exit_code == 2 and "option 'bogus' is not KEY=VALUE" in result.output


def test_programming_errors_keep_their_traceback_input_errors_do_not(monkeypatch):
    from rankwise.api import Reranker
    from rankwise.errors import InputError

    def broken(*args, **kwargs):
        raise ValueError("a bug, not bad input")

    monkeypatch.setattr(Reranker, "load", staticmethod(broken))
    result = runner.invoke(app, ["rerank", "-m", "minilm-embed", "-q", "x", "--docs", str(EXAMPLES / "fleas.jsonl")])
    assert result.exit_code == 1 and isinstance(result.exception, ValueError)
    assert "error:" not in result.output

    def bad_input(*args, **kwargs):
        raise InputError("the query is empty")

    monkeypatch.setattr(Reranker, "load", staticmethod(bad_input))
    result = runner.invoke(app, ["rerank", "-m", "minilm-embed", "-q", "x", "--docs", str(EXAMPLES / "fleas.jsonl")])
    assert result.exit_code == 2 and "error: the query is empty" in result.output


def test_serve_without_the_serve_extra_names_it(monkeypatch):
    import sys

    for name in [m for m in sys.modules if m == "fastapi" or m.startswith(("fastapi.", "rankwise.server"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi now raises ImportError
    result = runner.invoke(app, ["serve", "-m", "minilm-embed"])
    assert result.exit_code == 2, result.output
    assert "rankwise serve needs the 'serve' extra (fastapi is missing): pip install 'rankwise[serve]'" in result.output
