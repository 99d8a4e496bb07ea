"""Causal LM primitives: chat-prompt encoding, next-token log-probabilities and continuation
log-likelihoods, on token ids so that callers control truncation exactly.

Batches are left-padded with explicit position ids (so a padded row computes exactly what it would
alone), and only the last position's logits are materialized for next-token scoring: the full
[batch, length, vocabulary] tensor would be gigabytes for a 150k-token vocabulary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from rankwise.backends.adapters import SwitchesAdapters
from rankwise.backends.chat_tokenizer import ChatTokenizer, PromptEncoding
from rankwise.backends.interface import Capability
from rankwise.backends.options import TransformersOptions
from rankwise.backends.runtime import left_padded, length_sorted_batches, load_tokenizer_and_model
from rankwise.backends.shared_prefix import prefix_groups
from rankwise.cancellation import check_cancelled
from rankwise.errors import InputError
from rankwise.models.resolve import ModelLocation

if TYPE_CHECKING:
    import numpy as np
    import torch


class CausalLM(PromptEncoding, SwitchesAdapters):
    backend_name = "transformers"
    capabilities = frozenset(
        {
            Capability.TOKENIZE,
            Capability.NEXT_TOKEN_LOGPROBS,
            Capability.BRIDGED_FIRST_TOKEN,
            Capability.ATTENTION,
            Capability.NEXT_TOKEN_LOGITS,
            Capability.CONTINUATION_LOGPROBS,
            Capability.GENERATE,
            Capability.TOP_LOGPROBS,
        }
    )

    def __init__(self, location: ModelLocation, options: TransformersOptions):
        import torch
        from transformers import AutoModelForCausalLM

        self._torch = torch
        self.options = options
        self.location = location
        self.tokenizer, self.model, self.device = load_tokenizer_and_model(AutoModelForCausalLM, location, options)
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id or 0
        context = getattr(self.model.config, "max_position_embeddings", None) or 2048
        self.max_length = min(options.max_length or context, context)
        self.stats: Counter[str] = Counter()
        self.text = ChatTokenizer(self.tokenizer, location.label, truncate=options.truncate)

    def _batches(self, sequences: Sequence[Sequence[int]]) -> list[list[int]]:
        return length_sorted_batches(
            [len(s) for s in sequences], self.options.batch_size, self.options.max_tokens_per_batch
        )

    def _left_padded(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return left_padded(rows, self.pad_id, self.device)

    # -- primitives ------------------------------------------------------------------------------
    def next_token_logprobs(self, sequences: Sequence[Sequence[int]], token_ids: Sequence[int]) -> np.ndarray:
        """log P(token | sequence) for each sequence and each of `token_ids`: shape [len(sequences), len(token_ids)]."""
        check_cancelled()
        return self.first_token_logprobs(sequences, token_ids)[0]

    def continuation_logprobs(
        self, prefixes: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]]
    ) -> list[np.ndarray]:
        """Per-token log P(continuation | prefix) for each pair. Continuations of one shared prefix (the choices
        of one prompt) run the prefix once and then all of them on copies of its KV cache."""
        if len(prefixes) != len(continuations):
            raise ValueError("prefixes and continuations differ in length")
        rows = [list(p) + list(c) for p, c in zip(prefixes, continuations)]
        for prefix, continuation, row in zip(prefixes, continuations, rows):
            if not prefix or not continuation:
                raise InputError("continuation scoring needs a non-empty prefix and continuation")
            self._check_length(row)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, prefix in enumerate(prefixes):
            groups.setdefault(tuple(prefix), []).append(i)
        results: list = [None] * len(rows)
        alone = [i for members in groups.values() if len(members) == 1 for i in members]
        for i, value in zip(
            alone, self._continuations_apart([rows[i] for i in alone], [continuations[i] for i in alone])
        ):
            results[i] = value
        for prefix, members in groups.items():
            if len(members) > 1:
                for i, value in zip(members, self._continuations_of(prefix, [continuations[i] for i in members])):
                    results[i] = value
        return results

    def _continuations_apart(self, rows: list[list[int]], continuations: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Each row (prefix + continuation) in its own forward pass, batched by length."""
        torch = self._torch
        results: list = [None] * len(rows)
        with torch.inference_mode():
            for batch in self._batches(rows):
                check_cancelled()
                input_ids, mask, positions = self._left_padded([rows[i] for i in batch])
                span = max(len(continuations[i]) for i in batch)
                # logits at position t predict token t+1: keep the last `span + 1` positions only.
                logits = self.model(
                    input_ids=input_ids,
                    attention_mask=mask,
                    position_ids=positions,
                    logits_to_keep=span + 1,
                    use_cache=False,
                ).logits.float()
                self.stats["forward_passes"] += 1
                self.stats["prompt_tokens"] += int(mask.sum())
                log_probs = logits[:, :-1, :].log_softmax(-1)
                for row_in_batch, i in enumerate(batch):
                    n = len(continuations[i])
                    targets = input_ids[row_in_batch, -n:]
                    picked = log_probs[row_in_batch, span - n :].gather(-1, targets.unsqueeze(-1)).squeeze(-1)
                    results[i] = picked.cpu().numpy()
        return results

    def _continuations_of(self, prefix: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Many continuations of one prefix: the prefix once, then the continuations (right-padded, so that no
        real token sees a pad) in batches on copies of its KV cache."""
        import copy

        import numpy as np

        torch = self._torch
        check_cancelled()
        with torch.inference_mode():
            ids = torch.tensor([list(prefix)], dtype=torch.long, device=self.device)
            out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)
            self.stats["forward_passes"] += 1
            self.stats["prompt_tokens"] += len(prefix)
            first = out.logits[0, -1].float().log_softmax(-1).cpu().numpy()
            results = [np.array([first[c[0]]], dtype=np.float32) for c in continuations]
            fed = [list(c[:-1]) for c in continuations]  # the last token is only predicted
            pending = [i for i, tokens in enumerate(fed) if tokens]
            for start in range(0, len(pending), self.options.batch_size):
                check_cancelled()
                batch = pending[start : start + self.options.batch_size]
                width = max(len(fed[i]) for i in batch)
                step = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), len(prefix) + width), dtype=torch.long)
                mask[:, : len(prefix)] = 1
                for row, i in enumerate(batch):
                    step[row, : len(fed[i])] = torch.tensor(fed[i], dtype=torch.long)
                    mask[row, len(prefix) : len(prefix) + len(fed[i])] = 1
                cache = copy.deepcopy(out.past_key_values)
                cache.batch_repeat_interleave(len(batch))
                positions = (torch.arange(width) + len(prefix)).unsqueeze(0).expand(len(batch), -1)
                logits = self.model(
                    input_ids=step.to(self.device),
                    attention_mask=mask.to(self.device),
                    position_ids=positions.to(self.device),
                    past_key_values=cache,
                    use_cache=True,
                ).logits.float()
                self.stats["cached_continuation_passes"] += 1
                log_probs = logits.log_softmax(-1)
                for row, i in enumerate(batch):
                    targets = torch.tensor(list(continuations[i][1:]), dtype=torch.long, device=self.device)
                    picked = log_probs[row, : len(targets)].gather(-1, targets.unsqueeze(-1)).squeeze(-1)
                    results[i] = np.concatenate([results[i], picked.cpu().numpy().astype(np.float32)])
        return results

    def first_token_logprobs(
        self,
        sequences: Sequence[Sequence[int]],
        first_ids: Sequence[int],
        bridge_id: int | None = None,
        second_ids: Sequence[int] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """log P(first token) for `first_ids`, and, when `bridge_id` is given, log P(second token | bridge)
        for `second_ids`, from one forward pass per batch plus one single-token step on its KV cache."""
        import numpy as np

        torch = self._torch
        first = np.zeros((len(sequences), len(first_ids)), dtype=np.float32)
        second = np.zeros((len(sequences), len(second_ids)), dtype=np.float32)
        if not sequences:
            return first, second
        for s in sequences:
            self._check_length(list(s) + ([bridge_id] if bridge_id is not None else []))
        wanted_first = torch.tensor(list(first_ids), dtype=torch.long, device=self.device)
        wanted_second = torch.tensor(list(second_ids), dtype=torch.long, device=self.device)
        with torch.inference_mode():
            for batch, out, mask, positions in self._forward_last(sequences, keep_cache=bridge_id is not None):
                first[batch] = out.logits[:, -1].float().log_softmax(-1).index_select(-1, wanted_first).cpu().numpy()
                if bridge_id is None:
                    continue
                step = torch.full((len(batch), 1), bridge_id, dtype=torch.long, device=self.device)
                step_mask = torch.cat([mask, torch.ones_like(step)], dim=1)
                step_out = self.model(
                    input_ids=step,
                    attention_mask=step_mask,
                    position_ids=positions[:, -1:] + 1,
                    past_key_values=out.past_key_values,
                    logits_to_keep=1,
                    use_cache=False,
                )
                self.stats["single_token_steps"] += 1
                second[batch] = (
                    step_out.logits[:, -1].float().log_softmax(-1).index_select(-1, wanted_second).cpu().numpy()
                )
        return first, second

    def next_token_top_logprobs(self, sequences: Sequence[Sequence[int]], k: int) -> list[dict[str, float]]:
        check_cancelled()
        tops: list[dict[str, float]] = [{} for _ in sequences]
        for batch, last in self._last_logits(sequences):
            for i, row in zip(batch, last.log_softmax(-1).cpu().numpy()):
                tops[i] = self.top_entries(row, k)
        return tops

    def _last_logits(self, sequences: Sequence[Sequence[int]]) -> Iterator[tuple[list[int], torch.Tensor]]:
        """Each batch's indices and the fp32 logits at its sequences' last positions."""
        for s in sequences:
            self._check_length(s)
        with self._torch.inference_mode():
            for batch, out, _, _ in self._forward_last(sequences, keep_cache=False):
                yield batch, out.logits[:, -1].float()

    @property
    def shares_prefix(self) -> bool:
        share = self.options.share_prefix
        return share if share is not None else self.options.quantize is None

    def _forward_last(self, sequences: Sequence[Sequence[int]], keep_cache: bool) -> Iterator[tuple]:
        """Each batch's indices, its model output (the last position's logits; the KV cache when
        `keep_cache`), and its full attention mask and position ids. Prompts that share a prefix run it once
        (`shared_prefix.prefix_groups`) unless `share_prefix` is off."""
        groups = prefix_groups(sequences) if self.shares_prefix and len(sequences) > 1 else []
        alone = [g.members for g in groups if not g.length] if groups else [list(range(len(sequences)))]
        for members in alone:
            for local in self._batches([sequences[i] for i in members]):
                check_cancelled()
                batch = [members[i] for i in local]
                input_ids, mask, positions = self._left_padded([sequences[i] for i in batch])
                out = self.model(
                    input_ids=input_ids,
                    attention_mask=mask,
                    position_ids=positions,
                    logits_to_keep=1,
                    use_cache=keep_cache,
                )
                self.stats["forward_passes"] += 1
                self.stats["prompt_tokens"] += int(mask.sum())
                yield batch, out, mask, positions
        for group in groups:
            if group.length:
                yield from self._forward_shared(sequences, group.members, group.length, keep_cache)

    def _forward_shared(
        self, sequences: Sequence[Sequence[int]], members: list[int], length: int, keep_cache: bool
    ) -> Iterator[tuple]:
        """`_forward_last` for prompts whose first `length` tokens are equal: that prefix in one pass, then
        the tails left-padded (the pads masked, between the prefix and each tail) in batches on copies of
        its KV cache, at the positions they hold in the whole prompt."""
        import copy

        torch = self._torch
        check_cancelled()
        prefix = torch.tensor([list(sequences[members[0]][:length])], dtype=torch.long, device=self.device)
        cache = self.model(input_ids=prefix, use_cache=True, logits_to_keep=1).past_key_values
        self.stats["forward_passes"] += 1
        self.stats["prefix_passes"] += 1
        self.stats["prompt_tokens"] += length
        self.stats["shared_prefix_tokens"] += length * (len(members) - 1)
        tails = [list(sequences[i][length:]) for i in members]
        for local in self._batches(tails):
            check_cancelled()
            batch = [members[i] for i in local]
            input_ids, tail_mask, tail_positions = self._left_padded([tails[i] for i in local])
            mask = torch.cat(
                [torch.ones((len(batch), length), dtype=tail_mask.dtype, device=self.device), tail_mask], 1
            )
            batch_cache = copy.deepcopy(cache)
            batch_cache.batch_repeat_interleave(len(batch))
            out = self.model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=tail_positions + length,
                past_key_values=batch_cache,
                logits_to_keep=1,
                use_cache=keep_cache,
            )
            self.stats["forward_passes"] += 1
            self.stats["prompt_tokens"] += int(tail_mask.sum())
            yield batch, out, mask, tail_positions + length

    def next_token_logits(self, sequences: Sequence[Sequence[int]], token_ids: Sequence[int]) -> np.ndarray:
        """The raw next-token logits of `token_ids` (not normalized over the vocabulary), for checkpoints whose
        score is one token's logit (bge-reranker-v2-gemma): shape [len(sequences), len(token_ids)]."""
        check_cancelled()
        import numpy as np

        torch = self._torch
        out = np.zeros((len(sequences), len(token_ids)), dtype=np.float32)
        wanted = torch.tensor(list(token_ids), dtype=torch.long, device=self.device)
        for batch, last in self._last_logits(sequences):
            out[batch] = last.index_select(-1, wanted).cpu().numpy()
        return out

    def attention_to_prefix(self, prefix: Sequence[int], suffixes: Sequence[Sequence[int]]) -> np.ndarray:
        """For each suffix, the attention its tokens pay to each prefix position, summed over suffix tokens,
        layers and heads: shape [len(suffixes), len(prefix)]. The prefix is run once and its KV cache serves
        every suffix (cropped back after each), so n suffixes cost one long pass and n short ones. Only the
        suffix rows of the attention matrices are materialized: layers x heads x len(suffix) x total length
        floats per suffix (about 100 MB for SmolLM2 with 2,000 prefix tokens), never the full square."""
        import numpy as np

        torch = self._torch
        longest = max((list(s) for s in suffixes), key=len, default=[])
        self._check_length(list(prefix) + longest)
        if self.model.config._attn_implementation != "eager":  # only eager attention returns the weights
            self.model.set_attn_implementation("eager")
        out = np.zeros((len(suffixes), len(prefix)))
        with torch.inference_mode():
            cached = self.model(input_ids=torch.tensor([list(prefix)], device=self.device), use_cache=True)
            cache = cached.past_key_values
            self.stats["forward_passes"] += 1 + len(suffixes)
            self.stats["prompt_tokens"] += len(prefix) + sum(len(s) for s in suffixes)
            for row, suffix in enumerate(suffixes):
                result = self.model(
                    input_ids=torch.tensor([list(suffix)], device=self.device),
                    past_key_values=cache,
                    use_cache=True,
                    output_attentions=True,
                )
                total = sum(layer[0, :, :, : len(prefix)].float().sum(dim=(0, 1)) for layer in result.attentions)
                out[row] = total.cpu().numpy()
                cache.crop(-len(suffix))  # back to the prefix alone (transformers v5 counts tokens to remove)
        return out

    def generate(
        self, sequences: Sequence[Sequence[int]], max_new_tokens: int, stop_ids: Sequence[int] = ()
    ) -> list[list[int]]:
        """Greedy continuation of each sequence, stopping at the end-of-turn token (dropped) or after one of
        `stop_ids` (kept, e.g. a reasoning model's "</think>"); returns new token ids. Rows of a batch that
        stop early are padded by the model and trimmed here."""
        torch = self._torch
        results: list = [None] * len(sequences)
        for s in sequences:
            self._check_length(list(s) + [0] * max_new_tokens)
        end_ids = {i for i in (self.tokenizer.eos_token_id, self.model.generation_config.eos_token_id) if i is not None}
        end_ids = {j for i in end_ids for j in (i if isinstance(i, list) else [i])}
        kept = set(stop_ids)
        stopping = end_ids | kept
        with torch.inference_mode():
            for batch in self._batches(sequences):
                check_cancelled()
                input_ids, mask, _ = self._left_padded([sequences[i] for i in batch])
                output = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=mask,
                    do_sample=False,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=self.pad_id,
                    eos_token_id=sorted(stopping) or None,
                    num_beams=1,
                    temperature=None,
                    top_p=None,
                    top_k=None,
                )
                self.stats["generate_calls"] += 1
                self.stats["prompt_tokens"] += int(mask.sum())
                for row, i in zip(output[:, input_ids.shape[1] :].tolist(), batch):
                    trimmed = []
                    for token in row:
                        if token in kept:
                            trimmed.append(token)
                            break
                        if token in end_ids:
                            break
                        trimmed.append(token)
                    results[i] = trimmed
                    self.stats["generated_tokens"] += len(trimmed)
        return results
