"""FIRST's training objective: L = L_LM + lambda * L_RankNet (Reddy et al., 2024).

- L_LM: token-level negative log-likelihood of the target "[C] > [A] > ..." with the prompt masked out.
- L_RankNet: over the identifier scores read at the position that predicts the first identifier, every
  pair (i, j) with i ahead of j in the gold order contributes softplus(s_j - s_i), weighted by
  1 / (r_i + r_j) with 1-based gold ranks, averaged over pairs (BCE-with-logits on score differences,
  as in the reference implementation). The weight puts the pairs near the top first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEFAULT_RANKNET_WEIGHT = 10.0


def gold_ranks(gold_order: Sequence[int]) -> list[int]:
    """1-based rank of each window position, from the gold order (positions best first)."""
    ranks = [0] * len(gold_order)
    for rank, position in enumerate(gold_order, start=1):
        ranks[position] = rank
    if sorted(gold_order) != list(range(len(gold_order))):
        raise ValueError(f"gold order {list(gold_order)} is not a permutation of the window positions")
    return ranks


def weighted_ranknet_loss(scores: torch.Tensor, gold_order: Sequence[int]) -> torch.Tensor:
    """Position-weighted RankNet over one window: `scores[p]` is the identifier score of position p."""
    import torch

    ranks = torch.tensor(gold_ranks(gold_order), dtype=scores.dtype, device=scores.device)
    if scores.shape != ranks.shape:
        raise ValueError(f"{scores.shape[0]} scores for a window of {len(gold_order)} passages")
    ahead = ranks.unsqueeze(1) < ranks.unsqueeze(0)  # [i, j]: i ranked ahead of j
    differences = scores.unsqueeze(1) - scores.unsqueeze(0)  # s_i - s_j
    weights = 1.0 / (ranks.unsqueeze(1) + ranks.unsqueeze(0))
    pair_losses = torch.nn.functional.softplus(-differences[ahead])
    return (weights[ahead] * pair_losses).mean()


def target_nll(logits: torch.Tensor, target_ids: torch.Tensor) -> torch.Tensor:
    """Mean NLL of `target_ids` given the logits that predict them ([len, vocab] and [len])."""
    import torch

    return torch.nn.functional.cross_entropy(logits.float(), target_ids)


def first_loss(
    lm_nll: torch.Tensor, ranknet: torch.Tensor, ranknet_weight: float = DEFAULT_RANKNET_WEIGHT
) -> torch.Tensor:
    return lm_nll + ranknet_weight * ranknet
