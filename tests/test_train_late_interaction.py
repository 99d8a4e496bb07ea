"""Late-interaction (MaxSim) fine-tuning: its targets, its examples, and a tiny real training run."""

from __future__ import annotations

import json
import math

import pytest

from rankwise.pipelines.train.data import PooledDoc, QueryGroup
from rankwise.pipelines.train.late_interaction import LateInteractionTrainingConfig, listwise_groups
from rankwise.pipelines.train.listwise_sampling import teacher_logits


def _judged_group() -> QueryGroup:
    docs = [PooledDoc(f"d{i}", f"passage {i}", grade) for i, grade in enumerate([3, 0, 1, None, 2, 0])]
    return QueryGroup("train", "q1", "query one", docs)


def _unjudged_group() -> QueryGroup:
    docs = [PooledDoc(f"u{i}", f"text {i}", None, scores={"splade_pp_ed": s}) for i, s in enumerate([3.0, 1.0, 2.0])]
    docs.append(PooledDoc("u3", "no teacher score", None))
    return QueryGroup("unjudged", "q2", "query two", docs)


def test_judged_queries_are_labelled_by_grade_and_unjudged_passages_left_out():
    logits = teacher_logits(_judged_group(), LateInteractionTrainingConfig(grade_weight=2.0))
    assert logits == {"d0": 6.0, "d1": 0.0, "d2": 2.0, "d4": 4.0, "d5": 0.0}


def test_unjudged_queries_are_labelled_by_the_z_scored_teacher():
    logits = teacher_logits(_unjudged_group(), LateInteractionTrainingConfig(teacher_temperature=2.0))
    spread = math.sqrt(2 / 3)  # population std of 3, 1, 2
    assert logits.keys() == {"u0", "u1", "u2"}
    assert logits["u0"] == pytest.approx(2.0 * 1 / spread)
    assert logits["u1"] == pytest.approx(2.0 * -1 / spread)
    assert logits["u2"] == pytest.approx(0.0)


def test_examples_hold_labelled_passages_with_their_labels_and_are_reproducible():
    config = LateInteractionTrainingConfig(group_size=4, group_head=1, head=2, examples_per_query=3)
    rows = listwise_groups([_judged_group()], config)
    assert rows == listwise_groups([_judged_group()], config)
    text_to_logit = {f"passage {i}": g for i, g in enumerate([3, 0, 1, None, 2, 0])}
    for row in rows:
        texts = [row[f"d{i}"] for i in range(4)]
        assert len(set(texts)) == 4 and "passage 3" not in texts  # the unjudged passage never appears
        assert row["label"] == [float(text_to_logit[t]) for t in texts]
        assert sum(text_to_logit[t] >= 2 for t in texts) >= 1  # one from the head (grades 3 and 2)


def test_short_groups_train_as_lists_of_one_size_and_no_example_is_a_clear_error():
    from rankwise.errors import InputError

    # Issue 39: groups with fewer labelled passages than the list size (8) train; the late-interaction rows
    # are fixed columns (d0, d1, ...), so every list is cut to the smallest group's size.
    rows = listwise_groups([_unjudged_group(), _judged_group()], LateInteractionTrainingConfig())
    assert {len([k for k in row if k.startswith("d")]) for row in rows} == {3}
    lone = QueryGroup("unjudged", "q3", "query three", [PooledDoc("u0", "text", None, scores={"splade_pp_ed": 1.0})])
    with pytest.raises(InputError, match="no training example: no query has 2 or more passages with different"):
        listwise_groups([lone], LateInteractionTrainingConfig())


def test_a_few_steps_move_maxsim_toward_the_labels(tmp_path):
    """Real MiniLM, LoRA, a handful of steps: the labelled-best passage climbs in MaxSim rank."""
    pytest.importorskip("peft")
    from rankwise.api import Reranker
    from rankwise.pipelines.train.late_interaction import train_late_interaction
    from rankwise.types import Candidate, Query, Request

    texts = [
        "a recipe for sourdough bread",
        "the history of the roman empire",
        "how to tune a guitar",
        "penguins live in antarctica",
        "stock market news today",
        "the rules of chess",
        "zebra stripes and their purpose",
        "volcanoes erupt molten rock",
    ]
    target = "zebra stripes and their purpose"
    docs = [PooledDoc(f"d{i}", t, 3 if t == target else 0) for i, t in enumerate(texts)]
    group = QueryGroup("toy", "q", "bread baking at home", docs)
    config = LateInteractionTrainingConfig(
        group_size=8,
        group_head=1,
        head=1,
        examples_per_query=8,
        epochs=3,
        lr=2e-3,
        lora_r=4,
        batch_size=2,
        pooled_weight=0.0,
        checkpoint_steps=100,
    )
    request = Request(Query("q", group.query), [Candidate(d.docid, d.text) for d in docs])

    def rank_of_target(model: str, **options) -> int:
        ranking = Reranker.load(model, method="maxsim", prf_k=0, **options).rerank_batch([request])[0]
        return [r.docid for r in ranking].index("d6")

    before = rank_of_target("minilm-embed")
    record = train_late_interaction("minilm-embed", [group], tmp_path, config)
    assert record.steps == 12 and record.parameters_trained < 200_000
    assert (tmp_path / "model" / "adapter_config.json").is_file() and (tmp_path / "log.csv").is_file()
    after = rank_of_target("minilm-embed", adapter=str(tmp_path / "model"))
    assert before > 0 and after < before
    assert json.loads((tmp_path / "model" / "training.json").read_text())["config"]["lora_r"] == 4


@pytest.mark.slow  # 11 s
def test_dev_evaluation_measures_the_maxsim_the_reranker_computes(tmp_path):
    """--dev on a late-interaction run: the kept model's recorded dev nDCG@10 equals the one the `maxsim`
    reranker (no feedback) gives with the trained weights, measured again after training."""
    from rankwise.api import Reranker
    from rankwise.pipelines.train.dev import DevEvaluation
    from rankwise.pipelines.train.late_interaction import train_late_interaction
    from rankwise.types import Candidate, Query, Request

    texts = [
        "a recipe for sourdough bread",
        "the history of the roman empire",
        "how to tune a guitar",
        "penguins live in antarctica",
        "stock market news today",
        "the rules of chess",
        "zebra stripes and their purpose",
        "volcanoes erupt molten rock",
    ]
    train = QueryGroup(
        "toy", "q", "bread baking at home", [PooledDoc(f"d{i}", t, 3 if i == 6 else 0) for i, t in enumerate(texts)]
    )
    dev_groups = [
        QueryGroup(
            "dev",
            "d1",
            "where do penguins live",
            [PooledDoc(f"p{i}", t, 2 if i in (3, 7) else 0) for i, t in enumerate(texts)],
        ),
        QueryGroup(
            "dev",
            "d2",
            "board games and their rules",
            [PooledDoc(f"g{i}", t, 3 if i == 5 else 1) for i, t in enumerate(texts)],
        ),
    ]
    dev = DevEvaluation(dev_groups, every=2)
    config = LateInteractionTrainingConfig(
        group_size=8,
        group_head=1,
        head=1,
        examples_per_query=8,
        epochs=1,
        lr=2e-3,
        batch_size=2,
        pooled_weight=0.0,
        checkpoint_steps=100,
    )
    record = train_late_interaction("minilm-embed", [train], tmp_path, config, dev=dev)
    evaluations = record.config["dev"]["evaluations"]
    assert [e["step"] for e in evaluations] == [2, 4]
    assert record.config["dev"]["best_ndcg@10"] == max(e["ndcg@10"] for e in evaluations)
    assert "dev_ndcg@10" in (tmp_path / "log.csv").read_text().splitlines()[0]

    reranker = Reranker.load(str(tmp_path / "model"), method="maxsim", prf_k=0)

    def scores(query: str, passages: list[str]) -> list[float]:
        request = Request(Query("q", query), [Candidate(str(i), t) for i, t in enumerate(passages)])
        by_id = {r.docid: r.score for r in reranker.rerank_batch([request])[0]}
        return [by_id[str(i)] for i in range(len(passages))]

    assert dev.ndcg(scores) == pytest.approx(record.config["dev"]["best_ndcg@10"], abs=1e-6)


def test_dev_ndcg_counts_grades_at_the_relevance_level_and_reads_the_group_order():
    from rankwise.pipelines.train.dev import DevEvaluation

    group = QueryGroup("dev", "q", "query", [PooledDoc("a", "A", 0), PooledDoc("b", "B", 2), PooledDoc("c", "C", 1)])
    seen = []

    def by_list_order(query, passages):
        seen.append(passages)
        return [3.0, 2.0, 1.0]

    # Only "B" is relevant at level 2, ranked second: nDCG@10 = (1/log2(3)) / 1.
    assert DevEvaluation([group]).ndcg(by_list_order) == pytest.approx(1 / math.log2(3))
    assert seen == [["A", "B", "C"]]
    # At level 1 "C" counts too: DCG = 1/log2(3) + 1/log2(4), ideal 1 + 1/log2(3).
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert DevEvaluation([group], relevance_level=1).ndcg(by_list_order) == pytest.approx(expected)
    with pytest.raises(Exception, match="no dev query has both a passage graded >= 4"):
        DevEvaluation([group], relevance_level=4).ndcg(by_list_order)
