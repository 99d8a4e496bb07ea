"""Thinking within a token budget, shared by the reasoning methods: each prompt is continued greedily for at
most `budget` tokens, stopping once the model closes its think block. A block the budget (or the end of the
model's turn) left open is closed by the method as the checkpoint's own code closes it (`forced_close`), so
every prompt ends up where its answer can be read, and the trace says which way each one ended."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rankwise.backends.interface import LanguageModel
from rankwise.rerankers.prompts.shapes import ThinkClosing


@dataclass
class Thought:
    ids: list[int]  # the prompt, the reasoning and the closed think block: where the answer is read
    reasoning: str
    tokens: int  # reasoning tokens the model generated
    ended: str  # "model" (it closed the block), "budget" (cut at the budget), "turn" (it stopped unclosed) or
    # "none" (no budget: the block was written empty)

    @property
    def budget_hit(self) -> bool:
        return self.ended == "budget"

    def trace(self) -> dict[str, object]:
        return {"reasoning": self.reasoning, "reasoning_tokens": self.tokens, "ended": self.ended}


def think(lm: LanguageModel, prompt_texts: Sequence[str], closing: ThinkClosing, budget: int) -> list[Thought]:
    """Each prompt's thought; a forced closing is written into the prompt's text and tokenized whole, as
    Rank1's code does."""
    prompts = [lm.encode(text) for text in prompt_texts]
    close = lm.encode(closing.think_close)
    # A one-token closing tag stops generation; a tag of several tokens ("</", "think", ">") cannot, since
    # its last piece appears in ordinary text: then the whole budget is generated and cut at the tag.
    stop = close if len(close) == 1 else []
    generated = lm.generate(prompts, budget, stop_ids=stop) if budget > 0 else [[] for _ in prompts]
    thoughts = []
    for text, ids, produced in zip(prompt_texts, prompts, generated):
        closed = tokens_until(lm, produced, (closing.think_close,))
        if closed is not None:
            reasoning = lm.text.decode(produced[:closed]).split(closing.think_close)[0]
            thoughts.append(Thought(list(ids) + produced[:closed], reasoning, closed, "model"))
            continue
        reasoning = lm.text.decode(produced)
        if closing.trim_to_sentence:
            reasoning = last_full_sentence(reasoning)
        ended = "none" if budget == 0 else "budget" if len(produced) >= budget else "turn"
        forced = lm.encode(text + closing.forced_close.format(reasoning=reasoning))
        thoughts.append(Thought(forced, reasoning, len(produced), ended))
    return thoughts


def tokens_until(lm: LanguageModel, produced: Sequence[int], tags: Sequence[str]) -> int | None:
    """The number of generated tokens up to and including the one that completes the first of `tags` to
    appear in their decoded text, or None."""

    def holds(ids: Sequence[int]) -> bool:
        text = lm.text.decode(list(ids))
        return any(tag in text for tag in tags)

    if not holds(produced):
        return None
    low, high = 1, len(produced)  # containment only grows with the prefix: the first prefix holding one
    while low < high:
        middle = (low + high) // 2
        if holds(produced[:middle]):
            high = middle
        else:
            low = middle + 1
    return low


def last_full_sentence(text: str) -> str:
    """Rank1's repair of an unfinished reasoning: cut back to its last '.', '!' or '?' (if any), stripped."""
    text = text.rstrip()
    if not text.endswith((".", "!", "?")):
        last = max(text.rfind("."), text.rfind("!"), text.rfind("?"))
        if last != -1:
            text = text[: last + 1]
    return text.strip()


def answer_part(response: str, think_close: str = "</think>") -> str:
    """The ranking part of a response: after the last think block, inside <answer> </answer> when present."""
    text = response.split(think_close)[-1] if think_close in response else response
    if "<answer>" in text:
        text = text.split("<answer>", 1)[1]
    return text.split("</answer>", 1)[0]
