"""Causal LM primitives: chat-prompt encoding, next-token log-probabilities and continuation
log-likelihoods, on token ids so that callers control truncation exactly.

Batches are left-padded with explicit position ids (so a padded row computes exactly what it would
alone), and only the last position's logits are materialized for next-token scoring: the full
[batch, length, vocabulary] tensor would be gigabytes for a 150k-token vocabulary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rankwise.backends.runtime import (
    RuntimeOptions,
    apply_threads,
    length_sorted_batches,
    load_pretrained,
    select_device,
    select_dtype,
)
from rankwise.errors import InputError
from rankwise.models.resolve import ModelLocation

if TYPE_CHECKING:
    import numpy as np
    import torch


class CausalLM:
    def __init__(self, location: ModelLocation, options: RuntimeOptions):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        apply_threads(options.threads)
        self.options = options
        self.location = location
        self.device = select_device(options.device)
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, location)
        self.model = load_pretrained(AutoModelForCausalLM.from_pretrained, location,
                                     dtype=select_dtype(options.dtype, self.device))
        self.model.to(self.device).eval()
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id or 0
        context = getattr(self.model.config, "max_position_embeddings", None) or 2048
        self.max_length = min(options.max_length or context, context)
        self._torch = torch
        self.stats: Counter[str] = Counter()

    # -- text and token helpers ------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def chat_prefix(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """The chat template rendered to text; models without one get plain role-prefixed turns."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                      add_generation_prompt=add_generation_prompt)
        turns = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages)
        return turns + ("Assistant:" if add_generation_prompt else "")

    def truncate_text(self, text: str, max_tokens: int, what: str = "passage") -> tuple[str, bool]:
        """Cut text to at most `max_tokens` tokens, or raise when truncation is turned off."""
        ids = self.encode(text)
        if len(ids) <= max_tokens:
            return text, False
        if not self.options.truncate:
            raise InputError(f"{what} has {len(ids)} tokens, over the limit of {max_tokens}")
        return self.tokenizer.decode(ids[:max_tokens]), True

    def single_token_ids(self, words: Sequence[str]) -> list[int]:
        """Ids of those words that the tokenizer encodes as exactly one token."""
        ids = []
        for word in words:
            encoded = self.encode(word)
            if len(encoded) == 1 and encoded[0] not in ids:
                ids.append(encoded[0])
        return ids

    def _check_length(self, ids: Sequence[int]) -> None:
        if len(ids) > self.max_length:
            raise InputError(f"prompt has {len(ids)} tokens, over the model's limit of {self.max_length}")

    def _batches(self, sequences: Sequence[Sequence[int]]) -> list[list[int]]:
        return length_sorted_batches([len(s) for s in sequences], self.options.batch_size,
                                     self.options.max_tokens_per_batch)

    def _left_padded(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        torch = self._torch
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
            mask[i, width - len(row):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return input_ids.to(self.device), mask.to(self.device), positions.to(self.device)

    # -- primitives ------------------------------------------------------------------------------
    def next_token_logprobs(self, sequences: Sequence[Sequence[int]], token_ids: Sequence[int]) -> np.ndarray:
        """log P(token | sequence) for each sequence and each of `token_ids`: shape [len(sequences), len(token_ids)]."""
        import numpy as np

        torch = self._torch
        out = np.zeros((len(sequences), len(token_ids)), dtype=np.float32)
        if not sequences:
            return out
        for s in sequences:
            self._check_length(s)
        wanted = torch.tensor(list(token_ids), dtype=torch.long, device=self.device)
        with torch.inference_mode():
            for batch in self._batches(sequences):
                input_ids, mask, positions = self._left_padded([sequences[i] for i in batch])
                logits = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                                    logits_to_keep=1, use_cache=False).logits[:, -1, :].float()
                self.stats["forward_passes"] += 1
                self.stats["prompt_tokens"] += int(mask.sum())
                out[batch] = logits.log_softmax(-1).index_select(-1, wanted).cpu().numpy()
        return out

    def continuation_logprobs(
        self, prefixes: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]]
    ) -> list[np.ndarray]:
        """Per-token log P(continuation | prefix) for each pair."""
        torch = self._torch
        if len(prefixes) != len(continuations):
            raise ValueError("prefixes and continuations differ in length")
        rows = [list(p) + list(c) for p, c in zip(prefixes, continuations)]
        for prefix, continuation, row in zip(prefixes, continuations, rows):
            if not prefix or not continuation:
                raise InputError("continuation scoring needs a non-empty prefix and continuation")
            self._check_length(row)
        results: list = [None] * len(rows)
        with torch.inference_mode():
            for batch in self._batches(rows):
                input_ids, mask, positions = self._left_padded([rows[i] for i in batch])
                span = max(len(continuations[i]) for i in batch)
                # logits at position t predict token t+1: keep the last `span + 1` positions only.
                logits = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                                    logits_to_keep=span + 1, use_cache=False).logits.float()
                self.stats["forward_passes"] += 1
                self.stats["prompt_tokens"] += int(mask.sum())
                log_probs = logits[:, :-1, :].log_softmax(-1)
                for row_in_batch, i in enumerate(batch):
                    n = len(continuations[i])
                    targets = input_ids[row_in_batch, -n:]
                    picked = log_probs[row_in_batch, span - n:].gather(-1, targets.unsqueeze(-1)).squeeze(-1)
                    results[i] = picked.cpu().numpy()
        return results
