"""Listwise prompts: identifier alphabets, the RankZephyr/FIRST prompt as data, passage escaping and
truncation, and parsing a generated ranking into a permutation that is always valid."""

from __future__ import annotations
from rankwise.errors import OptionError

import re
import string
from dataclasses import dataclass

IDENTIFIER_ALPHABETS = {
    "alpha": list(string.ascii_uppercase),  # [A] [B] ... as in FIRST
    "numeric": [str(i) for i in range(1, 101)],  # [1] [2] ... as in RankGPT
}


def identifiers(alphabet: str, count: int) -> list[str]:
    if alphabet not in IDENTIFIER_ALPHABETS:
        raise OptionError(f"unknown identifier alphabet {alphabet!r}; choose {', '.join(IDENTIFIER_ALPHABETS)}")
    pool = IDENTIFIER_ALPHABETS[alphabet]
    if count > len(pool):
        raise OptionError(f"a window of {count} passages needs more than the {len(pool)} {alphabet} identifiers")
    return pool[:count]


@dataclass(frozen=True)
class ListwisePrompt:
    """`identifier_words` names the identifiers in the prompt's own words, per alphabet, so the text always
    describes the identifiers it shows (rank_llm keeps separate alphabetical and numeric templates)."""

    system: str
    prefix: str  # may use {n}, {query}, {identifier}
    passage: str
    suffix: str
    example: str  # e.g. "[B] > [A]"
    identifier_words: dict[str, str]

    def messages(self, query: str, labels: list[str], passages: list[str]) -> list[dict[str, str]]:
        alphabet = "numeric" if labels and labels[0].isdigit() else "alpha"
        body = "\n".join(self.passage.format(label=label, text=text) for label, text in zip(labels, passages))
        user = (self.prefix.format(n=len(labels), query=query, identifier=self.identifier_words[alphabet])
                + "\n\n" + body + "\n"
                + self.suffix.format(n=len(labels), query=query, example=self.example.format(*labels[:2][::-1])))
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


RANK_ZEPHYR = ListwisePrompt(
    system="You are RankLLM, an intelligent assistant that can rank passages based on their relevancy to the query.",
    prefix="I will provide you with {n} passages, each indicated by {identifier} []. "
           "Rank the passages based on their relevance to the search query: {query}.",
    passage="[{label}] {text}",
    suffix="Search Query: {query}.\nRank the {n} passages above based on their relevance to the search query. "
           "All the passages should be included and listed using identifiers, in descending order of relevance. "
           "The output format should be [] > [], e.g., {example}, Only respond with the ranking results, "
           "do not say any word or explain.",
    example="[{}] > [{}]",
    # "a alphabetical" is RankZephyr's training prompt verbatim: the fine-tuned models saw exactly it.
    identifier_words={"alpha": "a alphabetical identifier", "numeric": "a numerical identifier"},
)

RANK_GPT = ListwisePrompt(
    system="You are RankGPT, an intelligent assistant that can rank passages based on their relevancy to the query.",
    prefix="I will provide you with {n} passages, each indicated by {identifier} []. "
           "Rank the passages based on their relevance to query: {query}.",
    passage="[{label}] {text}",
    suffix="Search Query: {query}. \nRank the {n} passages above based on their relevance to the search query. "
           "The passages should be listed in descending order using identifiers. The most relevant passages "
           "should be listed first. The output format should be [] > [], e.g., {example}. "
           "Only response the ranking results, do not say any word or explain.",
    example="[{}] > [{}]",
    identifier_words={"alpha": "letter identifier", "numeric": "number identifier"},
)

PROMPTS = {"rank_zephyr": RANK_ZEPHYR, "rank_gpt": RANK_GPT}

_BRACKETED = re.compile(r"\[([A-Za-z]{1,2}|\d{1,3})\]")


def escape_identifiers(text: str) -> str:
    """Bracketed tokens inside a passage ("see [B]") become "(B)", so they cannot pass for identifiers."""
    return _BRACKETED.sub(r"(\1)", text)


def truncate_words(text: str, max_words: int) -> str:
    words = text.split()
    return text if len(words) <= max_words else " ".join(words[:max_words])


def mentioned_positions(response: str, labels: list[str]) -> list[int]:
    """Positions of the known identifiers a response names, in its order, each once."""
    index = {label: i for i, label in enumerate(labels)}
    found = [m.group(1) for m in _BRACKETED.finditer(response)]
    if not found:  # some models drop the brackets: "C > A > B"
        found = re.findall(r"[A-Za-z0-9]+", response)
    order: list[int] = []
    for token in found:
        position = index.get(token, index.get(token.upper()))
        if position is not None and position not in order:
            order.append(position)
    return order


def parse_permutation(response: str, labels: list[str]) -> list[int]:
    """Positions in ranked order from a response like "[C] > [A] > [B]": unknown identifiers are
    ignored, repeats dropped, and identifiers never mentioned appended in their input order."""
    order = mentioned_positions(response, labels)
    named = set(order)
    return order + [i for i in range(len(labels)) if i not in named]
