"""Prompt templates are data: a method formats one of these, it does not branch on the model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChatPrompt:
    system: str | None
    user: str

    def messages(self, **fields: str) -> list[dict[str, str]]:
        turns = [{"role": "system", "content": self.system}] if self.system else []
        return turns + [{"role": "user", "content": self.user.format(**fields)}]


RELEVANCE_YES_NO = ChatPrompt(
    system=None,
    user="Passage: {passage}\nQuery: {query}\nDoes the passage answer the query? Answer 'Yes' or 'No'.",
)

# UPR (Sachan et al., 2022): how likely is the query as a question written from the passage.
QUERY_GENERATION = ChatPrompt(
    system=None,
    user="Passage: {passage}\nPlease write a question based on this passage.",
)

# Names accepted for the `prompt` option (`-O prompt=NAME`); a ChatPrompt object works from Python too.
YES_NO_PROMPTS = {"relevance_yes_no": RELEVANCE_YES_NO}
QUERY_GENERATION_PROMPTS = {"upr": QUERY_GENERATION}
