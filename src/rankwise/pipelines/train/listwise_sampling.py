"""Listwise training examples shared by the trainers that learn from whole candidate lists (late interaction,
cross-encoders): per query, a sample of its passages with a teacher logit each.

A query's teacher logits are its grades where it is judged (times `grade_weight`; unjudged passages of a
judged query are left out), else the z-scored score of the first of `teacher`'s keys that scores at least
two of its passages (times `teacher_temperature`). A sample takes `group_head` passages from the best
`head` by that logit and the rest from below, in shuffled order, all drawn from `seed`, so the same data
gives the same samples."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass

from rankwise.errors import InputError
from rankwise.options import option
from rankwise.pipelines.train.config import TrainingConfig
from rankwise.pipelines.train.data import PooledDoc, QueryGroup


@dataclass
class ListSampling(TrainingConfig):
    """The sampling settings every listwise trainer's config inherits (with `TrainingConfig`'s seed)."""

    group_size: int = option(8, minimum=2, help="passages per list (smaller groups of a query train as they are)")
    group_head: int = option(2, minimum=0, help="of which drawn from the query's best `head` passages")
    head: int = option(10, minimum=1, help="how many of a query's best passages (by label) count as its head")
    examples_per_query: int = option(4, minimum=1, help="lists drawn per training query")
    examples_per_synthetic_query: int = option(
        1, minimum=1, help="lists drawn per synthetic query (they are many, and each is one passage's)"
    )
    grade_weight: float = option(1.0, minimum=0, help="a judged passage's teacher logit: its grade times this")
    # The scores that label unjudged queries, in order of preference: SPLADE++'s first-stage score, then the
    # round-trip label of synthetic queries; teacher: a lists file's scores (formats.py).
    teacher: str = option(
        "splade_pp_ed,roundtrip_maxsim,teacher",
        help="the score keys that label unjudged queries, in order of preference",
    )
    teacher_temperature: float = option(1.0, minimum=0, help="a teacher's z-scored score times this")


@dataclass(frozen=True)
class ListSample:
    query: str
    passages: list[str]
    logits: list[float]  # the teacher's, one per passage


def teacher_logits(group: QueryGroup, config: ListSampling) -> dict[str, float]:
    """Per passage, the logit of the target distribution (see the module's docstring); {} when the group has
    neither grades nor two passages scored by one of the teacher's keys."""
    if group.judged:
        return {d.docid: config.grade_weight * float(d.grade) for d in group.judged}
    for key in (k.strip() for k in config.teacher.split(",")):
        scored = [d for d in group.docs if key in d.scores]
        if len(scored) >= 2:
            break
    else:
        return {}
    values = [d.scores[key] for d in scored]
    mean = sum(values) / len(values)
    spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    if spread == 0:
        return {}
    return {d.docid: config.teacher_temperature * (d.scores[key] - mean) / spread for d in scored}


MIN_LIST = 2  # passages in the shortest list that has an order to learn


def sample_lists(groups: Sequence[QueryGroup], config: ListSampling, same_size: bool = False) -> list[ListSample]:
    """`examples_per_query` samples of `group_size` passages per query (`examples_per_synthetic_query` for
    generated queries), shuffled. A query with fewer labelled passages than `group_size` (an MS MARCO triple:
    one positive and a few negatives) trains as one list of all of them, if it has at least two passages
    whose labels differ; sampling it again would only repeat that list. With `same_size` (a trainer whose rows
    are fixed columns), every list has the smallest such group's size instead."""
    if same_size:
        sizes = [len(teacher_logits(g, config)) for g in groups]
        smallest = min((n for n in sizes if n >= MIN_LIST), default=config.group_size)
        if smallest < config.group_size:
            config = dataclasses.replace(config, group_size=smallest, group_head=min(config.group_head, smallest - 1))
    rng = random.Random(config.seed)
    samples = []
    for group in groups:
        logits = teacher_logits(group, config)
        docs = [d for d in group.docs if d.docid in logits]
        if len(docs) < config.group_size:
            if len(docs) >= MIN_LIST and len({logits[d.docid] for d in docs}) > 1:
                picked = rng.sample(docs, len(docs))
                samples.append(ListSample(group.query, [d.text for d in picked], [logits[d.docid] for d in picked]))
            continue
        ranked: list[PooledDoc] = sorted(docs, key=lambda d: -logits[d.docid])
        head = max(config.group_head, min(config.head, len(ranked) // 3))
        head = min(head, len(ranked) - (config.group_size - config.group_head))  # the tail must fill the rest
        count = config.examples_per_synthetic_query if group.is_synthetic else config.examples_per_query
        for _ in range(count):
            picked = rng.sample(ranked[:head], config.group_head) + rng.sample(
                ranked[head:], config.group_size - config.group_head
            )
            rng.shuffle(picked)
            samples.append(ListSample(group.query, [d.text for d in picked], [logits[d.docid] for d in picked]))
    rng.shuffle(samples)
    if not samples:
        raise InputError(
            f"no training example: no query has {MIN_LIST} or more passages with different grades "
            "(or different teacher scores): each query needs a relevant passage and another one"
        )
    return samples
