"""Synthetic training queries, InPars / Promptagator style: a local LLM writes the query a user might have
typed to find a passage, and a round-trip filter keeps only the queries whose source passage a retriever
ranks near the top of that passage's own candidate pool.

Passages are sampled from the head of each training query's pooled candidates (the best first-stage
rank), so the rest of that pool, on the same topic, gives hard negatives for free. Generation is greedy
and written one line per passage through `ResumableJsonl`, so a killed run continues and a finished file
equals an uninterrupted one. The filter encodes each pool once and scores all of its synthetic queries
with MaxSim over the encoder's token states; a kept query becomes a `QueryGroup` whose passages carry the
label `SYNTHETIC_TEACHER`: the z-scored MaxSim, with the source passage lifted to at least
`positive_margin` above the best other passage (it is the one passage known to answer the query)."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rankwise.backends.interface import LanguageModel, TokenEmbedder
from rankwise.errors import InputError
from rankwise.io.resumable import ResumableJsonl
from rankwise.options import check_declared, option
from rankwise.pipelines.progress import OnProgress
from rankwise.pipelines.train.data import SYNTHETIC_PREFIX, PooledDoc, QueryGroup
from rankwise.rerankers.embedding.maxsim import maxsim, zscores

SYNTHETIC_TEACHER = "roundtrip_maxsim"

INSTRUCTION = (
    "You write the web search query that a user typed to find the passage. Answer with the query "
    "only: a short question or keyword query, in lowercase, without quotes."
)

# Hand-written, in the style of web search logs; none comes from a test collection.
FEW_SHOT = (
    (
        "The Federal Reserve sets the target range for the federal funds rate, which influences short-term "
        "interest rates across the economy, including the prime rate that banks charge customers.",
        "who sets the federal funds rate",
    ),
    (
        "A normal resting heart rate for adults ranges from 60 to 100 beats per minute. Well-trained athletes "
        "may have a resting heart rate closer to 40 beats per minute.",
        "normal resting heart rate for adults",
    ),
    (
        "To remove a stripped screw, place a wide rubber band between the screwdriver and the screw head, press "
        "firmly and turn slowly; the rubber fills the gaps and gives the bit grip.",
        "how to remove a stripped screw",
    ),
)


@dataclass
class SyntheticQueryConfig:
    per_query: int = option(20, minimum=1, help="passages sampled from each training query's pool")
    from_top: int = option(30, minimum=1, help="... among its best `from_top` by first-stage rank")
    max_passage_tokens: int = option(256, minimum=8, help="the passage is cut to this many tokens in the prompt")
    max_new_tokens: int = option(32, minimum=1, help="generated tokens per query")
    keep_rank: int = option(
        3, minimum=1, help="round trip: kept when the source passage ranks in the top `keep_rank` of its pool"
    )
    positive_margin: float = option(1.0, help="the source passage's label above its pool's best other")
    seed: int = option(0, help="seed of the sampled passages")

    def __post_init__(self) -> None:
        check_declared(self, "synthetic queries")


@dataclass
class SourcePassage:
    id: str  # "<training qid>:<docid>"
    qid: str
    docid: str
    text: str


@dataclass
class FilterReport:
    groups: list[QueryGroup]
    generated: int = 0
    unusable: int = 0  # the generator's answer was not a query (empty, too long, a copy of the passage)
    rejected: int = 0  # the round trip failed
    source_ranks: list[int] = field(default_factory=list)  # the source passage's rank, every usable query


def sample_sources(groups: Sequence[QueryGroup], config: SyntheticQueryConfig) -> list[SourcePassage]:
    """Per group, `per_query` passages drawn from its head; the same groups and seed give the same list."""
    sources = []
    for group in groups:
        head = sorted(group.docs, key=lambda d: min(d.ranks.values(), default=10**6))[: config.from_top]
        picked = random.Random(f"{config.seed}:{group.collection}:{group.qid}").sample(
            head, min(config.per_query, len(head))
        )
        sources += [SourcePassage(f"{group.qid}:{d.docid}", group.qid, d.docid, d.text) for d in picked]
    return sources


def read_examples(path: Any) -> tuple[tuple[str, str], ...]:
    """Few-shot examples a user gives (`--examples FILE`): JSONL lines `{"passage": ..., "query": ...}`, in the
    style of the queries their users type; they replace the built-in web-search examples."""
    from rankwise.io.lines import iter_jsonl

    examples = []
    for number, entry in iter_jsonl(path):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) and entry[k].strip() for k in ("passage", "query")
        ):
            raise InputError('an example is {"passage": TEXT, "query": TEXT}', source=str(path), line=number)
        examples.append((entry["passage"], entry["query"]))
    if not examples:
        raise InputError("no example in the file", source=str(path))
    return tuple(examples)


def query_prompt(
    lm: LanguageModel, passage: str, config: SyntheticQueryConfig, examples: Sequence[tuple[str, str]] = FEW_SHOT
) -> list[int]:
    messages = [{"role": "system", "content": INSTRUCTION}]
    for example, query in examples:
        messages += [{"role": "user", "content": f"Passage: {example}"}, {"role": "assistant", "content": query}]
    text = lm.text.truncate_text(passage, config.max_passage_tokens)
    messages.append({"role": "user", "content": f"Passage: {text}"})
    return lm.encode(lm.chat_prefix(messages))


def clean_query(answer: str, passage: str) -> str | None:
    """The query in a generator's answer, or None when the answer is not one."""
    line = next((part for part in answer.strip().splitlines() if part.strip()), "")
    line = re.sub(r"^\s*(query|search query|q)\s*:\s*", "", line, flags=re.IGNORECASE)
    query = " ".join(line.strip().strip("\"'`").split())
    words = query.split()
    if not 2 <= len(words) <= 20 or not re.search(r"[A-Za-z]", query):
        return None
    if len(query) > 30 and query.lower() in passage.lower():
        return None  # a copied sentence teaches string matching, not relevance
    return query


def generate_queries(
    lm: LanguageModel,
    sources: Sequence[SourcePassage],
    path: Any,
    config: SyntheticQueryConfig,
    on_progress: OnProgress | None = None,
    examples: Sequence[tuple[str, str]] = FEW_SHOT,
) -> int:
    """One line per source passage (`{"id", "qid", "docid", "answer", "query"}`, `query` null when the
    answer was unusable) in `path`; resumes a killed run. Returns how many this call generated."""
    out = ResumableJsonl(path, "synthetic-query", key="id")
    done = out.remaining([s.id for s in sources])
    if done and on_progress:
        on_progress(done)
    for source in sources[done:]:
        produced = lm.generate([query_prompt(lm, source.text, config, examples)], config.max_new_tokens)[0]
        answer = lm.text.decode(produced, skip_special_tokens=True)
        out.append(
            [
                {
                    "id": source.id,
                    "qid": source.qid,
                    "docid": source.docid,
                    "answer": answer,
                    "query": clean_query(answer, source.text),
                }
            ]
        )
        if on_progress:
            on_progress(1)
    return len(sources) - done


def round_trip_groups(
    encoder: TokenEmbedder,
    groups: Sequence[QueryGroup],
    generated: Sequence[dict[str, Any]],
    config: SyntheticQueryConfig,
) -> FilterReport:
    """Kept synthetic queries as training groups over their source pool, labelled for `SYNTHETIC_TEACHER`."""
    import numpy as np

    by_qid = {g.qid: g for g in groups}
    report = FilterReport(groups=[], generated=len(generated))
    per_pool: dict[str, list[dict[str, Any]]] = {}
    for entry in generated:
        if entry["qid"] not in by_qid:
            raise InputError(
                f"synthetic query {entry['id']!r} comes from query {entry['qid']!r}, which is not in "
                "the training collections given"
            )
        if entry.get("query") is None:
            report.unusable += 1
        else:
            per_pool.setdefault(entry["qid"], []).append(entry)
    for qid, entries in per_pool.items():
        pool = by_qid[qid]
        _, passage_tokens = encoder.embed_with_tokens([d.text for d in pool.docs])
        _, query_tokens = encoder.embed_with_tokens([e["query"] for e in entries])
        position = {d.docid: i for i, d in enumerate(pool.docs)}
        for entry, tokens in zip(entries, query_tokens):
            scores = np.array([maxsim(tokens, p) for p in passage_tokens])
            source = position[entry["docid"]]
            rank = 1 + int((scores > scores[source]).sum())
            report.source_ranks.append(rank)
            if rank > config.keep_rank:
                report.rejected += 1
                continue
            labels = zscores(scores)
            best_other = float(np.delete(labels, source).max(initial=-np.inf))
            labels[source] = max(float(labels[source]), best_other + config.positive_margin)
            docs = [
                PooledDoc(d.docid, d.text, None, dict(d.ranks), {SYNTHETIC_TEACHER: float(label)})
                for d, label in zip(pool.docs, labels)
            ]
            report.groups.append(QueryGroup(f"{SYNTHETIC_PREFIX}{pool.collection}", entry["id"], entry["query"], docs))
    return report
