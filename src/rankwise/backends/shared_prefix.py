"""Which prompts of one call share a token prefix worth computing once.

Pointwise prompts put the system text, instruction and query before the passage, so the prompts of one
query differ only after a long common head. A causal LM's keys and values for that head do not depend on
what follows it, so the head can run once and every passage's tail against a copy of its cache: the
scores are those of the plain path (to float rounding), and the tokens run fall from the sum of the
prompts' lengths to the head plus the tails.

The prompts are sorted (so prompts with a common prefix are neighbours and a group's common prefix is the
smallest of its neighbours' common prefixes) and cut into contiguous groups by dynamic programming on the
tokens run, each extra group costing `GROUP_COST` tokens' worth of a forward pass. Groups hold at most
`MAX_GROUP` prompts, which keeps the search linear in the call's size. A group that would save less than
`MIN_SAVING` (a quarter) of its tokens runs plain: a pass of its own and a copied cache per batch cost more
than they save there (measured on Qwen2.5-Coder-0.5B, 20 DL 2019 candidates: a 16% prefix ran 0.88x as
fast as plain, a 37% prefix 1.58x; `benchmarks/shared_prefix.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

GROUP_COST = 16
MAX_GROUP = 128
MIN_SAVING = 0.25


@dataclass(frozen=True)
class PrefixGroup:
    """Prompts (indices into the call) whose first `length` tokens are equal; `length` 0 means each runs
    whole, alone."""

    length: int
    members: list[int]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def prefix_groups(sequences: Sequence[Sequence[int]], min_length: int = 1) -> list[PrefixGroup]:
    """A partition of `sequences` into groups that share a prefix of at least `min_length` tokens (each
    member keeping at least one token of its own) and one group of length 0 for the rest, chosen to run
    the fewest tokens."""
    n = len(sequences)
    order = sorted(range(n), key=lambda i: tuple(sequences[i]))
    lengths = [len(sequences[i]) for i in order]
    neighbours = [common_prefix(sequences[order[k]], sequences[order[k + 1]]) for k in range(n - 1)]
    best = [0] * (n + 1)  # best[j]: tokens run for order[:j]
    cut: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (start of the last group, its prefix length)
    for j in range(1, n + 1):
        best[j], cut[j] = best[j - 1] + lengths[j - 1], (j - 1, 0)
        shared, shortest, total = 1 << 30, lengths[j - 1], lengths[j - 1]
        for i in range(j - 2, max(-1, j - 1 - MAX_GROUP), -1):  # the group order[i:j]
            shared = min(shared, neighbours[i])
            shortest = min(shortest, lengths[i])
            total += lengths[i]
            length = min(shared, shortest - 1)
            if length < min_length:
                break
            cost = best[i] + GROUP_COST + length + total - (j - i) * length
            if cost < best[j]:
                best[j], cut[j] = cost, (i, length)
    groups: list[PrefixGroup] = []
    alone: list[int] = []
    j = n
    while j > 0:
        i, length = cut[j]
        saved = (j - i - 1) * length
        if length and saved < MIN_SAVING * sum(lengths[i:j]):
            alone.extend(order[k] for k in range(i, j))
        elif length:
            groups.append(PrefixGroup(length, [order[k] for k in range(i, j)]))
        else:
            alone.append(order[i])
        j = i
    if alone:
        groups.append(PrefixGroup(0, sorted(alone)))
    return groups
