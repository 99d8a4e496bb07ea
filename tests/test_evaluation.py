import pytest

from rankwise import reporting
from rankwise.io.sidecar import read_sidecar, write_sidecar
from rankwise.pipelines.evaluate import compare_runs, coverage, per_query, report_measures

QRELS = {"1": {"a": 3, "b": 0, "c": 1}, "2": {"a": 2, "d": 2}, "3": {"x": 1}}
GOOD = {"1": {"a": 3.0, "b": 2.0, "c": 1.0}, "2": {"a": 2.0, "d": 1.0, "z": 0.5}, "3": {"x": 1.0}}
BAD = {"1": {"b": 3.0, "c": 2.0, "a": 1.0}, "2": {"z": 2.0, "a": 1.0, "d": 0.5}, "3": {"y": 1.0, "x": 0.0}}


def test_binary_measures_use_relevance_level_two():
    # query 3 has only a grade-1 document: binary measures see no relevant document
    values = per_query(GOOD, QRELS, ["RR(rel=2)@10", "RR@10"])
    assert values["RR(rel=2)@10"].get("3", 0.0) == 0.0
    assert values["RR@10"]["3"] == 1.0
    assert report_measures(1)[3] == "AP(rel=1)@100"


def test_coverage_names_missing_and_extra_queries():
    run = {"1": GOOD["1"], "9": {"a": 1.0}}
    assert coverage(run, QRELS) == (["2", "3"], ["9"])
    comparison = compare_runs({"partial": run, "full": GOOD}, QRELS)
    assert comparison.queries == ["1"]
    assert any("partial: 2 judged queries missing from the run: 2, 3" in w for w in comparison.warnings)
    assert any("partial: 1 queries without judgments ignored: 9" in w for w in comparison.warnings)


def test_compare_runs_tests_against_baseline():
    comparison = compare_runs({"bad": BAD, "good": GOOD}, QRELS, baseline="bad", trials=1000)
    good = comparison.runs[1]
    assert good.means["nDCG@10"] > comparison.runs[0].means["nDCG@10"]
    assert good.wins_ties_losses[0] >= 2
    assert 0 < good.p_randomization <= 1 and 0 <= good.p_t <= 1
    assert good.p_t_holm == good.p_t  # a single comparison: Holm changes nothing
    assert comparison.runs[0].p_t is None
    with pytest.raises(ValueError, match="baseline 'nope' is not one of the runs"):
        compare_runs({"a": GOOD}, QRELS, baseline="nope")


def test_one_shared_query_against_a_baseline_gives_win_tie_loss_and_says_why_no_p_value():
    # a run of one query (a first try on your own data) was a ValueError traceback from the t-test
    one = {"1": QRELS["1"]}
    comparison = compare_runs({"bad": {"1": BAD["1"]}, "good": {"1": GOOD["1"]}}, one, baseline="bad")
    good = comparison.runs[1]
    assert good.wins_ties_losses == (1, 0, 0) and good.p_t is None and good.p_randomization_holm is None
    assert "significance tests need at least two shared queries, 1 here" in comparison.warnings[-1]
    rendered = reporting.markdown(comparison)
    assert "1/0/0" in rendered and "| good |" in rendered.replace("| good* |", "| good |")


def test_reports_render_in_every_format(tmp_path):
    comparison = compare_runs(
        {"bad": BAD, "good": GOOD},
        QRELS,
        baseline="bad",
        metadata={"good": {"seconds_per_query": 0.5}, "bad": {"seconds_per_query": 0.1}},
    )
    md = reporting.markdown(comparison)
    assert md.splitlines()[0].startswith(
        "| run | nDCG@1 | nDCG@5 | nDCG@10 | MAP@100 | MRR@10 | R@20 | R@100 | Judged@10 |"
    )
    assert "| bad | " in md and "baseline" in md
    csv_text = reporting.csv_text(comparison)
    assert csv_text.splitlines()[2].startswith("good,") and csv_text.splitlines()[2].endswith(",0.500")
    figure = reporting.plot(comparison, tmp_path / "report.png")
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    deltas, cost = figure.axes
    # Each panel has its own x axis: queries (linear) for the per-query bars, seconds (log) for the cost.
    assert deltas.get_xscale() == "linear" and "queries, sorted by delta" in deltas.get_xlabel()
    assert cost.get_xscale() == "log" and "seconds per query" in cost.get_xlabel()
    assert not deltas.get_shared_x_axes().joined(deltas, cost)
    assert deltas.get_xlim() == pytest.approx((-0.6, len(comparison.queries) - 0.4))  # bar positions, not seconds


def test_sidecar_round_trip(tmp_path):
    run = tmp_path / "run.trec"
    run.write_text("")
    write_sidecar(run, {"method": "embedding", "seconds_per_query": 1.5})
    meta = read_sidecar(run)
    assert meta["method"] == "embedding" and meta["seconds_per_query"] == 1.5 and "rankwise_version" in meta
    assert read_sidecar(tmp_path / "other.trec") == {}
