"""The llama.cpp backend: the language-model primitives on GGUF files as they ship (quantized), through
llama-cpp-python, with no dequantization to fp32.

One context serves the sequences one at a time, in sorted order, and keeps the KV cache of the longest
prefix shared with the previous sequence. So prompts that differ only at the end (one passage, then the
query; FIRST's bridge token after the window) pay only for their new tokens. Log-probabilities are
computed from the full-vocabulary logits of the last evaluated position, so they are exact for the
quantized model. A continuation is read from one extra batch that keeps the logits of each of its
positions, and generation is greedy.

llama.cpp computes a one-token batch on another kernel path than a longer one (measured on SmolLM2
Q4_1: up to 0.67 nats apart on tail tokens). So that a prompt's scores never depend on what was cached
before it, every prompt is evaluated in pieces of at least two tokens. Single-token steps (FIRST's bridge,
continuations, generation) always follow a full prompt the same way."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rankwise.backends.chat_tokenizer import PromptEncoding, TextSideBase, role_prefixed
from rankwise.backends.interface import Capability
from rankwise.backends.options import RuntimeOptions
from rankwise.cancellation import check_cancelled
from rankwise.errors import InputError, OptionError
from rankwise.models.resolve import ModelLocation

if TYPE_CHECKING:
    import numpy as np

DEFAULT_CONTEXT = 4096


class LlamaText(TextSideBase):
    """The tokenizer side of a GGUF model: llama.cpp's own vocabulary, and the chat template stored in the
    GGUF metadata, rendered with Jinja2 the way transformers renders it."""

    def __init__(self, llm: Any, label: str, truncate: bool = True):
        self.llm = llm
        self.label = label
        self.truncate = truncate
        self._template = None
        source = (llm.metadata or {}).get("tokenizer.chat_template")
        if source:
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            environment.globals["raise_exception"] = _raise_template_error
            self._template = environment.from_string(source)

    def encode(self, text: str) -> list[int]:
        # special=True: chat-template markers such as <|im_start|> are single special tokens, as in transformers.
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return self.llm.detokenize(list(ids), special=not skip_special_tokens).decode("utf-8", errors="replace")

    def default_prefix_ids(self) -> list[int]:
        # add_bos=True adds the BOS only where the GGUF's tokenizer says to (tokenizer.ggml.add_bos_token).
        return list(self.llm.tokenize(b"", add_bos=True, special=True))

    def chat_prefix(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        if self._template is None:
            return role_prefixed(messages, add_generation_prompt)
        bos, eos = self.llm.token_bos(), self.llm.token_eos()
        return self._template.render(
            messages=messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.decode([bos]) if bos >= 0 else "",
            eos_token=self.decode([eos]) if eos >= 0 else "",
        )


def _pieces(count: int, batch: int) -> list[int]:
    """Split `count` tokens into evaluation pieces of at most `batch`, none of exactly one token (when count >= 2)."""
    pieces = [batch] * (count // batch) + ([count % batch] if count % batch else [])
    if len(pieces) > 1 and pieces[-1] == 1:
        pieces[-2:] = [pieces[-2] - 1, 2]
    return pieces


def _raise_template_error(message: str) -> None:
    raise InputError(f"chat template: {message}")


class LlamaCppLM(PromptEncoding):
    backend_name = "llama.cpp"
    capabilities = frozenset(
        {
            Capability.TOKENIZE,
            Capability.NEXT_TOKEN_LOGPROBS,
            Capability.BRIDGED_FIRST_TOKEN,
            Capability.CONTINUATION_LOGPROBS,
            Capability.GENERATE,
            Capability.TOP_LOGPROBS,
        }
    )

    def __init__(self, location: ModelLocation, options: RuntimeOptions, needs: frozenset[Capability] = frozenset()):
        import llama_cpp

        if options.device not in (None, "cpu"):
            raise OptionError(f"the llama.cpp backend as built here runs on the CPU, not {options.device!r}")
        self._lib = llama_cpp
        self.options = options
        self.location = location
        self.max_length = options.max_length or DEFAULT_CONTEXT
        threads = options.threads or os.cpu_count() or 1
        # Both thread pools: llama-cpp-python gives prompt processing (n_threads_batch) every core otherwise.
        self.llm = llama_cpp.Llama(
            model_path=location.path,
            n_ctx=self.max_length,
            n_batch=512,
            n_threads=threads,
            n_threads_batch=threads,
            logits_all=False,
            verbose=False,
        )
        self.text = LlamaText(self.llm, location.label, truncate=options.truncate)
        self.n_vocab = self.llm.n_vocab()
        self._vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self.stats: Counter[str] = Counter()

    # -- evaluation with prefix reuse ---------------------------------------------------------------
    def _evaluate(self, ids: Sequence[int]) -> np.ndarray:
        """Log-probabilities of the next token after `ids`, reusing the cached shared prefix."""
        check_cancelled()
        if not ids:
            raise InputError("cannot score an empty prompt")
        llm = self.llm
        cached = llm.input_ids[: llm.n_tokens]
        shared = 0
        limit = min(len(cached), len(ids) - 2)  # at least two new tokens: the multi-token kernel path
        while shared < limit and cached[shared] == ids[shared]:
            shared += 1
        llm.n_tokens = shared  # eval() drops the KV cache past this point
        self.stats["reused_tokens"] += shared
        self.stats["evaluated_tokens"] += len(ids) - shared
        start = shared
        for piece in _pieces(len(ids) - shared, llm.n_batch):
            llm.eval(list(ids[start : start + piece]))
            start += piece
        return self._last_logprobs()

    def _step(self, token: int) -> np.ndarray:
        self.llm.eval([token])
        self.stats["single_token_steps"] += 1
        return self._last_logprobs()

    def _last_logprobs(self) -> np.ndarray:
        return self._logprobs_at(-1)

    def _logprobs_at(self, index: int) -> np.ndarray:
        import numpy as np

        pointer = self._lib.llama_get_logits_ith(self.llm.ctx, index)
        logits = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,)).astype(np.float64)
        shifted = logits - logits.max()
        return shifted - np.log(np.exp(shifted).sum())

    def _extend_keeping_logits(self, tokens: Sequence[int]) -> list[np.ndarray]:
        """Append `tokens` to the cached context in one batch and return the next-token log-probs after each.
        llama-cpp-python's `eval` keeps only the last position's logits unless the whole context was built
        with logits for every position (n_ctx x vocabulary floats: 2.5 GB for Qwen at 4k), so this batch
        asks llama.cpp for logits at these positions only."""
        llm = self.llm
        start = llm.n_tokens
        llm._ctx.kv_cache_seq_rm(-1, start, -1)
        llm._batch.set_batch(batch=list(tokens), n_past=start, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[start : start + len(tokens)] = tokens
        llm.n_tokens += len(tokens)
        self.stats["evaluated_tokens"] += len(tokens)
        return [self._logprobs_at(i) for i in range(len(tokens))]

    @staticmethod
    def _order(sequences: Sequence[Sequence[int]]) -> list[int]:
        """Sorted order, so neighbours share the longest prefixes."""
        return sorted(range(len(sequences)), key=lambda i: list(sequences[i]))

    # -- primitives -------------------------------------------------------------------------------
    def next_token_logprobs(self, sequences: Sequence[Sequence[int]], token_ids: Sequence[int]) -> np.ndarray:
        return self.first_token_logprobs(sequences, token_ids)[0]

    def next_token_top_logprobs(self, sequences: Sequence[Sequence[int]], k: int) -> list[dict[str, float]]:
        for s in sequences:
            self._check_length(s)
        tops: list[dict[str, float]] = [{} for _ in sequences]
        for i in self._order(sequences):
            tops[i] = self.top_entries(self._evaluate(sequences[i]), k)
        return tops

    def first_token_logprobs(
        self,
        sequences: Sequence[Sequence[int]],
        first_ids: Sequence[int],
        bridge_id: int | None = None,
        second_ids: Sequence[int] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        first = np.zeros((len(sequences), len(first_ids)), dtype=np.float32)
        second = np.zeros((len(sequences), len(second_ids)), dtype=np.float32)
        for s in sequences:
            self._check_length(list(s) + ([bridge_id] if bridge_id is not None else []))
        for i in self._order(sequences):
            log_probs = self._evaluate(sequences[i])
            first[i] = log_probs[list(first_ids)]
            if bridge_id is not None:
                second[i] = self._step(bridge_id)[list(second_ids)]
        return first, second

    def continuation_logprobs(
        self, prefixes: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]]
    ) -> list[np.ndarray]:
        import numpy as np

        if len(prefixes) != len(continuations):
            raise ValueError("prefixes and continuations differ in length")
        results: list = [None] * len(prefixes)
        for prefix, continuation in zip(prefixes, continuations):
            if not prefix or not continuation:
                raise InputError("continuation scoring needs a non-empty prefix and continuation")
            self._check_length(list(prefix) + list(continuation))
        for i in self._order(prefixes):
            continuation = list(continuations[i])
            distributions = [self._evaluate(prefixes[i])]
            feed = continuation[:-1]
            for start in range(0, len(feed), self.llm.n_batch):
                distributions += self._extend_keeping_logits(feed[start : start + self.llm.n_batch])
            results[i] = np.array([d[token] for d, token in zip(distributions, continuation)], dtype=np.float32)
        return results

    def generate(
        self, sequences: Sequence[Sequence[int]], max_new_tokens: int, stop_ids: Sequence[int] = ()
    ) -> list[list[int]]:
        kept = set(stop_ids)
        results: list = [None] * len(sequences)
        for s in sequences:
            self._check_length(list(s) + [0] * max_new_tokens)
        for i in self._order(sequences):
            log_probs = self._evaluate(sequences[i])
            produced: list[int] = []
            while len(produced) < max_new_tokens:
                token = int(log_probs.argmax())
                if self._lib.llama_vocab_is_eog(self._vocab, token):
                    break
                produced.append(token)
                if token in kept:
                    break
                if len(produced) < max_new_tokens:
                    check_cancelled()  # a long generation stops within a token of its request's end
                    log_probs = self._step(token)
            self.stats["generated_tokens"] += len(produced)
            results[i] = produced
        return results
