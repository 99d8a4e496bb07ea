"""Cascades that spend only on doubtful queries (issue 42 item 4): a stage after a calibrated one runs for
the queries its `escalate_when` band admits and, under a latency budget, for the most doubtful first."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

import tiny_models
from conftest import EXAMPLES, FLEA_PASSAGES, FLEA_QUERY
from rankwise import Reranker
from rankwise.errors import InputError, OptionError
from rankwise.rerankers.compose.escalation import EscalateWhen, doubt
from rankwise.types import Request
from server_helpers import threaded_server

QUERIES = [FLEA_QUERY, "what does sourdough need", "flea market antiques", "how do cocoons work"]
BAND = "doubt@4:0.3..1"


@pytest.fixture(scope="module")
def tiny_ce(tmp_path_factory):
    """A random cross-encoder: an order unlike MiniLM's, so that an escalated query visibly changes."""
    folder, _, _ = tiny_models.cross_encoder(tmp_path_factory.mktemp("escalation") / "ce", 1)
    return folder


@pytest.fixture(scope="module")
def first_stage():
    return Reranker.load("minilm-embed", calibration=True)


def _requests():
    return [Request.build(q, FLEA_PASSAGES, qid=str(i)) for i, q in enumerate(QUERIES)]


def _cascade(tiny_ce, stage_options: str = ""):
    options = "{" + stage_options + "}" if stage_options else ""
    return Reranker.load(f"embedding:minilm-embed{{calibration=true}}@4 >> cross-encoder:{tiny_ce}{options}@4")


def test_only_queries_in_the_band_are_escalated(tiny_ce, first_stage):
    cascade = _cascade(tiny_ce, f"escalate_when={BAND}")
    second = Reranker.load(str(tiny_ce))
    rankings = cascade.rerank_batch(_requests())
    escalated = 0
    for request, ranking in zip(_requests(), rankings):
        first = first_stage.rerank_batch([request])[0]
        signal = doubt([r.probability for r in first], 4)
        alone = second.rerank(request.query.text, [r.text for r in first]).docids  # positions in `first`
        escalated_order = [first.docids[int(i)] for i in alone]
        stage = ranking.trace["stages"][1]
        if 0.3 <= signal <= 1:
            escalated += 1
            assert stage["escalated"] is True and ranking.docids == escalated_order
            assert escalated_order != first.docids  # the second stage did reorder: the check is not vacuous
        else:
            assert stage == {
                "method": "cross-encoder",
                "model": str(tiny_ce),
                "escalated": False,
                "why": f"outside escalate_when {BAND}",
                "doubt": pytest.approx(signal),
                "signal": pytest.approx(signal),
            }
            assert ranking.docids == first.docids
    assert 0 < escalated < len(QUERIES)


def test_a_budget_escalates_the_most_doubtful_queries_that_fit(tiny_ce, first_stage):
    cascade = _cascade(tiny_ce)
    assert cascade.takes_budget
    nothing = cascade.rerank_batch(_requests(), budget=0.0)
    assert all(r.trace["stages"][1]["why"] == "over the latency budget" for r in nothing)
    assert [r.docids for r in nothing] == [first_stage.rerank_batch([q])[0].docids for q in _requests()]
    everything = cascade.rerank_batch(_requests(), budget=600.0)
    assert all(r.trace["stages"][1]["escalated"] for r in everything)
    # With the stage's cost known (set here to 1000 s a query), a 1500 s budget fits exactly one query:
    # the most doubtful.
    cascade.stages[1].seconds_per_query = 1000.0
    doubts = [doubt([x.probability for x in first_stage.rerank_batch([q])[0]], 10) for q in _requests()]
    one = cascade.rerank_batch(_requests(), budget=1500.0)
    assert [r.trace["stages"][1]["escalated"] for r in one] == [d == max(doubts) for d in doubts]


def test_escalation_settings_that_cannot_work_are_refused(tiny_ce):
    with pytest.raises(
        OptionError,
        match=r"stage 2 \(cross-encoder\) has escalate_when=doubt@4:0.3..1, which reads "
        r"the calibrated probabilities of the stage before it: give stage 1 a calibration",
    ):
        Reranker.load(f"embedding:minilm-embed@4 >> cross-encoder:{tiny_ce}{{escalate_when={BAND}}}")
    with pytest.raises(OptionError, match="escalate_when='doubt:high' is not SIGNAL"):
        EscalateWhen.parse("doubt:high")
    with pytest.raises(OptionError, match="top1 reads the top passage only; drop the @3"):
        EscalateWhen.parse("top1@3:0.2..0.8")
    with pytest.raises(OptionError, match="needs K >= 1 and LO <= HI"):
        EscalateWhen.parse("mass@10:3..1")
    assert EscalateWhen.parse("mass@5:0..2.5").value([0.5, 0.5, 0.5, 0.5, 0.5, 0.9]) == pytest.approx(2.5)
    with pytest.raises(InputError, match="'embedding' over 'minilm-embed' cannot trade quality for time"):
        Reranker.load("minilm-embed").rerank(FLEA_QUERY, FLEA_PASSAGES, budget=1.0)
    with pytest.raises(InputError, match="budget must be seconds >= 0, got -1"):
        _cascade(tiny_ce).rerank(FLEA_QUERY, FLEA_PASSAGES, budget=-1)


def test_the_service_takes_a_latency_budget_per_request(tiny_ce, first_stage):
    from rankwise.server import ServerSettings, create_app

    body = {"query": FLEA_QUERY, "documents": FLEA_PASSAGES}
    plain_order = [int(d) for d in first_stage.rerank(FLEA_QUERY, FLEA_PASSAGES).docids]
    with threaded_server(create_app(_cascade(tiny_ce), ServerSettings(model_name="cascade"))) as base:
        skipped = httpx.post(f"{base}/v1/rerank", json={**body, "latency_budget_ms": 0}, timeout=60).json()
        escalated = httpx.post(f"{base}/v1/rerank", json={**body, "latency_budget_ms": 600000}, timeout=60).json()
    assert [r["index"] for r in skipped["results"]] == plain_order
    assert [r["index"] for r in escalated["results"]] != plain_order
    with threaded_server(create_app(first_stage, ServerSettings(model_name="minilm-embed"))) as base:
        refused = httpx.post(f"{base}/v1/rerank", json={**body, "latency_budget_ms": 100}, timeout=60)
    assert refused.status_code == 422
    assert "cannot trade quality for time, so latency_budget_ms does not apply" in refused.text


def test_the_cli_takes_a_budget_for_a_query_but_not_for_a_batch_job(tiny_ce, tmp_path):
    from rankwise.cli import app

    spec = f"embedding:minilm-embed{{calibration=true}}@4 >> cross-encoder:{tiny_ce}@4"
    runner = CliRunner()
    docs = str(EXAMPLES / "fleas.jsonl")
    shown = runner.invoke(app, ["rerank", "--model", spec, "--query", FLEA_QUERY, "--docs", docs, "--budget", "0"])
    assert shown.exit_code == 0, shown.output
    refused = runner.invoke(
        app, ["rerank", "--model", spec, "--input", docs, "--output-dir", str(tmp_path / "o"), "--budget", "1"]
    )
    assert refused.exit_code != 0 and "--budget applies to --query and --input/--output" in refused.output


def test_a_batch_job_refuses_a_query_limit_it_would_not_apply(tmp_path):
    """--queries cut only --output runs; a batch job used to rerank its whole input without a word."""
    from rankwise.cli.main import app

    docs = str(EXAMPLES / "fleas.jsonl")
    refused = CliRunner().invoke(
        app, ["rerank", "-m", "minilm-embed", "--input", docs, "--output-dir", str(tmp_path / "o"), "--queries", "2"]
    )
    assert refused.exit_code != 0 and "--queries applies to --output/--output-json" in refused.output
    assert not (tmp_path / "o").exists()
