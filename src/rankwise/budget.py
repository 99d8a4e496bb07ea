"""Fitting passages into a token budget, in one place: `fit(fixed, pieces, limit, policy)` says how many
tokens each piece keeps so that the fixed part (template, query) and the pieces fit `limit`. The method
chooses the policy (a backend only carries it out):

- `equal-share`: the pieces share what the fixed part leaves equally; a piece shorter than its share keeps
  all of it and gives the rest to the others (water-filling; E2Rank's pseudo-query);
- `longest-first`: tokens come off the longest piece, one at a time, the first longest on a tie (Hugging
  Face's `truncation="longest_first"`; the seq2seq sources of monoT5, duoT5 and LiT5);
- `tail`: only the last piece is cut (a prompt whose body ends with the passage);
- `proportional`: every piece keeps the same fraction of its tokens.

Two methods keep their reference's own procedure instead, on purpose: the listwise prompts shrink passages
by words and re-render (rank_llm's loop, `prompts/listwise.py`), and FlagEmbedding's pair templates cap the
query and the passage by shares of the limit (`prompts/pair_template.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from rankwise.errors import InputError

Policy = Literal["equal-share", "longest-first", "tail", "proportional"]
POLICIES: tuple[Policy, ...] = ("equal-share", "longest-first", "tail", "proportional")


class OverBudget(InputError):
    """The fixed part alone is over the limit: no cut of the pieces can help."""


def fit(fixed: int, pieces: Sequence[int], limit: int, policy: Policy) -> list[int]:
    """Tokens each piece keeps (never more than it has) so that `fixed + sum(kept) <= limit`."""
    room = limit - fixed
    if room < 0:
        raise OverBudget(f"the fixed part takes {fixed} tokens, over the limit of {limit}")
    lengths = list(pieces)
    if sum(lengths) <= room:
        return lengths
    if policy == "equal-share":
        cap = equal_share_cap(lengths, room)
        return [min(n, cap) for n in lengths]
    if policy == "longest-first":
        kept = list(lengths)
        for _ in range(sum(kept) - room):
            longest = max(range(len(kept)), key=lambda i: kept[i])
            kept[longest] -= 1
        return kept
    if policy == "tail":
        before = sum(lengths[:-1])
        if before > room:
            raise OverBudget(f"the pieces before the last take {before} tokens, over the {room} left")
        return lengths[:-1] + [room - before]
    if policy == "proportional":
        scale = room / sum(lengths)
        return [int(n * scale) for n in lengths]
    raise ValueError(f"unknown fitting policy {policy!r}; one of {', '.join(POLICIES)}")


def equal_share_cap(lengths: Sequence[int], room: int) -> int:
    """The largest per-piece cap c with sum(min(length, c)) <= room."""
    low, high = 0, max(lengths, default=0)
    while low < high:
        cap = (low + high + 1) // 2
        if sum(min(n, cap) for n in lengths) <= room:
            low = cap
        else:
            high = cap - 1
    return low
