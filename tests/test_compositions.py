"""Cascades and reciprocal rank fusion written as spec strings (or YAML) wherever a model name goes: the
grammar, its error messages, and what the composed rankings are on real MiniLM scores."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from conftest import EXAMPLES, FLEA_PASSAGES, FLEA_QUERY
from rankwise import InputError, Reranker
from rankwise.cli import app
from rankwise.rerankers.compose.rrf import reciprocal_rank_scores
from rankwise.rerankers.compose.spec import is_spec, parse_spec
from rankwise.rerankers.registry import METHODS
from rankwise.types import Candidate, Query, Ranking, Request, ScoreKind

METHOD_NAMES = set(METHODS)
PASSAGES = FLEA_PASSAGES + ["Cats sleep for most of the day.", "Fleas feed on blood and lay eggs daily."]


def _request() -> Request:
    return Request(Query("q", FLEA_QUERY), [Candidate(str(i), p) for i, p in enumerate(PASSAGES)])


def test_the_grammar_reads_stages_cuts_options_and_fusions():
    stages = parse_spec(
        "maxsim:minilm-embed{prf_k=0, prf_beta=0.5}@100 >> rrf(embedding:minilm-embed, "
        "first:smollm2-135m{window=4, alphabet=numeric}){k=10}@20",
        METHOD_NAMES,
    )
    assert [s.top_k for s in stages] == [100, 20]
    assert stages[0].members[0].options == {"prf_k": 0, "prf_beta": 0.5}
    assert [m.method for m in stages[1].members] == ["embedding", "first"]
    assert stages[1].members[1].options == {"window": 4, "alphabet": "numeric"}
    assert stages[1].rrf_options == {"k": 10}
    assert is_spec("maxsim:minilm-embed", METHOD_NAMES)
    assert not is_spec("sentence-transformers/all-MiniLM-L6-v2", METHOD_NAMES)
    assert not is_spec("minilm-embed", METHOD_NAMES)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("maxsim:minilm-embed@0 >> embedding:minilm-embed", "a stage reranks at least 1 candidate"),
        ("rrf(maxsim:minilm-embed)", "rrf needs at least 2"),
        ("bogus:minilm-embed >> embedding:minilm-embed", "unknown method 'bogus'"),
        ("maxsim:minilm-embed{prf_k} >> embedding:minilm-embed", "option 'prf_k' is not KEY=VALUE"),
        ("maxsim >> embedding:minilm-embed", "malformed reranker 'maxsim'"),
    ],
)
def test_malformed_specs_are_refused_with_the_culprit_named(spec, message):
    with pytest.raises(InputError, match=message):
        parse_spec(spec, METHOD_NAMES)


def test_a_cascade_reranks_the_first_stage_head_and_keeps_the_rest_below(minilm):
    cascade = Reranker.load("embedding:minilm-embed@4 >> maxsim:minilm-embed{prf_k=0}@2")
    ranking = cascade.rerank_batch([_request()])[0]
    first = minilm.rerank_batch([_request()])[0]
    head = Request(Query("q", FLEA_QUERY), [Candidate(d, PASSAGES[int(d)]) for d in first.docids[:2]])
    second = Reranker.load("minilm-embed", method="maxsim", prf_k=0).rerank_batch([head])[0]
    # Stage 1 ranks its top 4 of the input (the first 4 passages); stage 2 reorders stage 1's top 2.
    stage1 = minilm.rerank_batch([Request(Query("q", FLEA_QUERY), _request().candidates[:4])])[0].docids
    assert ranking.docids == second.docids + stage1[2:] + ["4", "5"]
    assert ranking.score_kind is ScoreKind.ORDINAL
    assert [r.score for r in ranking.results] == [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    stages = ranking.trace["stages"]
    assert [(s["method"], s["top_k"], s["score_kind"]) for s in stages] == [
        ("embedding", 4, "cosine"),
        ("maxsim", 2, "cosine"),
    ]
    assert stages[1]["scores"] == pytest.approx({r.docid: r.score for r in second.results})


def test_reciprocal_rank_fusion_sums_one_over_k_plus_rank_of_each_member(minilm):
    fused = Reranker.load("rrf(embedding:minilm-embed, maxsim:minilm-embed{prf_k=0}){k=10}")
    ranking = fused.rerank_batch([_request()])[0]
    members = [
        minilm.rerank_batch([_request()])[0],
        Reranker.load("minilm-embed", method="maxsim", prf_k=0).rerank_batch([_request()])[0],
    ]
    expected = {d: sum(1 / (10 + m.docids.index(d) + 1) for m in members) for d in members[0].docids}
    assert {r.docid: r.score for r in ranking.results} == pytest.approx(expected)
    assert ranking.score_kind is ScoreKind.ORDINAL


def test_reciprocal_rank_scores_by_hand():
    request = Request(Query("q", "x"), [Candidate("a", "a"), Candidate("b", "b")])
    one = Ranking.from_scores(request, [2.0, 1.0])
    two = Ranking.from_scores(request, [1.0, 2.0])
    assert reciprocal_rank_scores([one, two], k=1) == pytest.approx({"a": 1 / 2 + 1 / 3, "b": 1 / 3 + 1 / 2})


def test_method_options_outside_the_spec_and_a_second_method_are_refused():
    with pytest.raises(Exception, match="belong inside the spec"):
        Reranker.load("embedding:minilm-embed@4 >> maxsim:minilm-embed", prf_k=2)
    with pytest.raises(Exception, match="names its own methods"):
        Reranker.load("embedding:minilm-embed@4 >> maxsim:minilm-embed", method="maxsim")


def test_a_yaml_spec_file_builds_the_same_cascade(tmp_path, minilm):
    path = tmp_path / "cascade.yaml"
    path.write_text(
        "cascade:\n  - {method: embedding, model: minilm-embed, top_k: 4}\n"
        "  - {method: maxsim, model: minilm-embed, options: {prf_k: 0}, top_k: 2}\n"
    )
    from_file = Reranker.load(str(path)).rerank_batch([_request()])[0]
    from_string = Reranker.load("embedding:minilm-embed@4 >> maxsim:minilm-embed{prf_k=0}@2").rerank_batch(
        [_request()]
    )[0]
    assert from_file.docids == from_string.docids
    path.write_text("cascade: []\n")
    with pytest.raises(InputError, match="holds {cascade"):
        Reranker.load(str(path))
    path.write_text("cascade:\n  - {method: maxsim, model: minilm-embed, options: [1, 2]}\n")
    with pytest.raises(InputError, match="options must be a mapping"):
        Reranker.load(str(path))
    path.write_text("cascade: [ {method: maxsim\n")
    with pytest.raises(InputError, match="malformed YAML"):
        Reranker.load(str(path))


def test_the_cli_takes_a_spec_where_a_model_name_goes():
    result = CliRunner().invoke(
        app,
        [
            "rerank",
            "--model",
            "embedding:minilm-embed@3 >> maxsim:minilm-embed@2",
            "--query",
            "how long do fleas live",
            "--docs",
            str(EXAMPLES / "fleas.jsonl"),
            "--top-n",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "flea-lifespan" in [line for line in result.output.splitlines() if "flea-" in line][0]
    bad = CliRunner().invoke(
        app,
        ["rerank", "--model", "rrf(maxsim:minilm-embed)", "--query", "fleas", "--docs", str(EXAMPLES / "fleas.jsonl")],
    )
    assert bad.exit_code == 2 and "rrf needs at least 2" in bad.output


def test_bench_takes_specs_in_its_comma_separated_list(tmp_path):
    from conftest import data_path

    candidates = data_path("dl19", "bm25_top100.json").parent
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "--dataset",
            str(candidates),
            "--queries",
            "2",
            "--top-k",
            "10",
            "--out-dir",
            str(tmp_path),
            "--rerankers",
            "embedding:minilm-embed, rrf(embedding:minilm-embed, maxsim:minilm-embed{prf_k=0})",
        ],
    )
    assert result.exit_code == 0, result.output
    runs = sorted(p.name for p in tmp_path.glob("*.trec"))
    assert runs == [
        "bm25.trec",
        "embedding__minilm-embed.trec",
        "rrf_embedding__minilm-embed_maxsim__minilm-embed_prf_k_0.trec",
    ]
    line = (tmp_path / runs[2]).read_text().splitlines()[0].split()
    assert len(line) == 6 and line[5] == runs[2][:-5]  # the tag stays one field


def test_the_service_serves_a_cascade_as_the_python_api_ranks(minilm):
    import httpx

    from rankwise.server import ServerSettings, create_app
    from server_helpers import threaded_server

    spec = "embedding:minilm-embed@3 >> maxsim:minilm-embed{prf_k=0}@2"
    cascade = Reranker.load(spec)
    expected = [int(d) for d in cascade.rerank(FLEA_QUERY, FLEA_PASSAGES).docids]
    with threaded_server(create_app(cascade, ServerSettings(model_name=spec))) as base:
        data = httpx.post(
            f"{base}/v1/rerank", json={"query": FLEA_QUERY, "documents": FLEA_PASSAGES}, timeout=60
        ).json()
    assert [r["index"] for r in data["results"]] == expected
    assert data["meta"]["score_kind"] == "ordinal" and data["model"] == spec
