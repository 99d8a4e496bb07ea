import json

from typer.testing import CliRunner

from rankwise.cli import app

from conftest import EXAMPLES, data_path

runner = CliRunner()


def test_rerank_query_with_docs_prints_ranked_list():
    result = runner.invoke(app, ["rerank", "--model", "minilm-embed", "--query", "how long do fleas live",
                                 "--docs", str(EXAMPLES / "fleas.jsonl"), "--top-n", "3"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "flea-" in line or "tick" in line]
    assert "flea-lifespan" in lines[0]


def test_rerank_file_writes_trec_run_and_json_then_eval(tmp_path):
    candidates = data_path("dl19", "bm25_top100.json")
    run, js = tmp_path / "run.trec", tmp_path / "run.json"
    result = runner.invoke(app, ["rerank", "-m", "minilm-embed", "-i", str(candidates), "-o", str(run),
                                 "--output-json", str(js), "--queries", "2", "--top-k", "20", "--tag", "emb"])
    assert result.exit_code == 0, result.output
    assert "2 queries, 40 documents reranked" in result.output
    lines = run.read_text().splitlines()
    assert len(lines) == 200 and lines[0].endswith(" emb")
    assert len(json.loads(js.read_text())[0]["hits"]) == 100
    evaluated = runner.invoke(app, ["eval", "--run", str(run), "--qrels", str(data_path("dl19", "qrels.txt"))])
    assert evaluated.exit_code == 0, evaluated.output
    assert "nDCG@10" in evaluated.output and "R(rel=2)@100" in evaluated.output


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
