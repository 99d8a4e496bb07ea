"""NeuralNDCG (Pobrotyn and Białobrzeski, "NeuralNDCG: Direct Optimisation of a Ranking Metric via
Differentiable Relaxation of Sorting", 2021), the deterministic variant as allegro/allRank computes it
(`allrank/models/losses/neuralNDCG.py`): NeuralSort's relaxed permutation matrix of the scores, made doubly
stochastic by Sinkhorn scaling, approximately sorts the gains; the loss is minus the mean NDCG@k of those
approximately sorted gains over lists with any relevant item. Padded positions (`mask`) take no part.

`NeuralNDCGLoss` is the same loss for a sentence-transformers CrossEncoder (the cross-encoder trainer's
`loss=neural_ndcg`), taking each query's documents and graded labels as its ListNetLoss does."""

from __future__ import annotations

from typing import Any

EPS = 1e-10  # allRank's DEFAULT_EPS


def neural_sort(scores: Any, mask: Any, temperature: float) -> Any:
    """NeuralSort's relaxed permutation matrices [batch, n, n] (row r: where rank r's mass lies), padded
    positions last, as allRank's `deterministic_neural_sort`."""
    import torch

    n = scores.shape[1]
    s = scores.masked_fill(mask, -1e8).unsqueeze(-1)
    pairwise = (s - s.transpose(1, 2)).abs().masked_fill(mask[:, :, None] | mask[:, None, :], 0.0)
    b = pairwise.sum(dim=-1, keepdim=True)  # A_s @ 1 1^T: each row's sum, broadcast
    real = (~mask).sum(dim=1)
    scaling = torch.zeros(scores.shape[0], n, dtype=scores.dtype, device=scores.device)
    for row, m in enumerate(real.tolist()):
        scaling[row, :m] = m + 1 - 2 * (torch.arange(m, device=scores.device, dtype=scores.dtype) + 1)
    c = s.masked_fill(mask[:, :, None], 0.0) @ scaling.unsqueeze(-2)
    p_max = (c - b).transpose(1, 2)
    p_max = p_max.masked_fill(mask[:, :, None] | mask[:, None, :], float("-inf"))
    p_max = p_max.masked_fill(mask[:, :, None] & mask[:, None, :], 1.0)
    return torch.softmax(p_max / temperature, dim=-1)


def sinkhorn(matrices: Any, mask: Any, tol: float = 1e-6, max_iter: int = 50) -> Any:
    """Alternate row and column normalisation until both sum to 1 within `tol` (allRank's `sinkhorn_scaling`)."""
    import torch

    m = matrices.masked_fill(mask[:, None, :] | mask[:, :, None], 0.0)
    m = m.masked_fill(mask[:, None, :] & mask[:, :, None], 1.0)
    for _ in range(max_iter):
        m = m / m.sum(dim=1, keepdim=True).clamp(min=EPS)
        m = m / m.sum(dim=2, keepdim=True).clamp(min=EPS)
        if torch.max(torch.abs(m.sum(dim=2) - 1.0)) < tol and torch.max(torch.abs(m.sum(dim=1) - 1.0)) < tol:
            break
    return m.masked_fill(mask[:, None, :] | mask[:, :, None], 0.0)


def ideal_dcg(labels: Any, mask: Any, k: int, powered: bool) -> Any:
    import torch

    gains = labels.masked_fill(mask, 0.0)
    gains = torch.pow(2.0, gains) - 1.0 if powered else gains
    ordered = gains.sort(dim=1, descending=True).values[:, :k]
    discounts = 1.0 / torch.log2(torch.arange(ordered.shape[1], dtype=labels.dtype, device=labels.device) + 2.0)
    return (ordered * discounts).sum(dim=1)


def neural_ndcg(
    scores: Any,
    labels: Any,
    mask: Any | None = None,
    temperature: float = 1.0,
    k: int | None = None,
    powered: bool = True,
) -> Any:
    """Minus the mean NeuralNDCG@k over the lists with a relevant item; 0 when none has one. `scores` and
    `labels` [batch, n]; `mask` True at padded positions; `powered`: gains 2^label - 1, else the labels."""
    import torch

    mask = torch.zeros_like(labels, dtype=torch.bool) if mask is None else mask
    k = labels.shape[1] if k is None else k
    permutation = sinkhorn(neural_sort(scores, mask, temperature), mask)
    permutation = permutation.masked_fill(mask[:, :, None] | mask[:, None, :], 0.0)
    gains = labels.masked_fill(mask, 0.0)
    gains = torch.pow(2.0, gains) - 1.0 if powered else gains
    sorted_gains = (permutation @ gains.unsqueeze(-1)).squeeze(-1)
    discounts = 1.0 / torch.log2(torch.arange(labels.shape[1], dtype=scores.dtype, device=scores.device) + 2.0)
    dcg = (sorted_gains * discounts)[:, :k].sum(dim=-1)
    ideal = ideal_dcg(labels, mask, k, powered)
    ndcg = (dcg / (ideal + EPS)).masked_fill(ideal == 0.0, 0.0)
    counted = (ideal != 0.0).sum()
    if counted == 0:
        return torch.tensor(0.0)
    return -ndcg.sum() / counted


def neural_ndcg_loss(model: Any) -> Any:
    """The loss module for a sentence-transformers CrossEncoder (one score per pair)."""
    import torch
    from sentence_transformers.util import batch_to_device
    from torch import nn

    class NeuralNDCGLoss(nn.Module):
        def __init__(self, model: Any, temperature: float = 1.0, k: int | None = None):
            super().__init__()
            self.model, self.temperature, self.k = model, temperature, k

        def forward(
            self, inputs: list[Any], labels: list[Any], prompt: str | None = None, task: str | None = None
        ) -> Any:
            queries, docs_list = inputs[0], inputs[1]
            lengths = [len(docs) for docs in docs_list]
            pairs = [(q, d) for q, docs in zip(queries, docs_list) for d in docs]
            tokens = batch_to_device(self.model.preprocess(pairs, prompt=prompt, task=task), self.model.device)
            logits = self.model(tokens)["scores"].view(-1).float()
            width = max(lengths)
            rows = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
            columns = torch.cat([torch.arange(n) for n in lengths])
            scores = torch.zeros(len(lengths), width, device=logits.device)
            scores = scores.index_put((rows, columns), logits)
            grades = torch.zeros(len(lengths), width, device=logits.device)
            grades[rows, columns] = torch.cat([torch.as_tensor(v, dtype=torch.float) for v in labels]).to(logits.device)
            mask = torch.ones(len(lengths), width, dtype=torch.bool, device=logits.device)
            mask[rows, columns] = False
            return neural_ndcg(scores, grades, mask, self.temperature, self.k)

        def get_config_dict(self) -> dict[str, Any]:
            return {"temperature": self.temperature, "k": self.k}

    return NeuralNDCGLoss(model)
