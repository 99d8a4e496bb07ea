"""Text-side helpers over a Hugging Face tokenizer: chat-template rendering, encoding without special
tokens, truncation by tokens, and single-token word lookup. Kept apart from the model so that
tokenizer-only analyses (FIRST's identifier scheme) need no weights."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankwise.backends.interface import HFTokenCounting
from rankwise.errors import InputError, UnsupportedMethodError


class TextSideBase:
    """What every tokenizer side derives from encode/decode: truncation by tokens and single-token lookup."""

    label: str
    truncate: bool

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        raise NotImplementedError

    def chat_prefix(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        raise NotImplementedError

    def default_prefix_ids(self) -> list[int]:
        """The special tokens the tokenizer puts before a text when asked for its defaults."""
        return []

    def cut_to_tokens(self, text: str, max_tokens: int) -> str:
        """The text cut to at most `max_tokens` tokens: decoded from the first tokens here, for a vocabulary
        without character offsets (llama.cpp's); a Hugging Face tokenizer cuts the original text instead."""
        ids = self.encode(text)
        return text if len(ids) <= max_tokens else self.decode(ids[:max_tokens])

    def truncate_text(self, text: str, max_tokens: int, what: str = "passage") -> str:
        """Cut text to at most `max_tokens` tokens (`cut_to_tokens`), or raise when truncation is turned off."""
        count = len(self.encode(text))
        if count <= max_tokens:
            return text
        if not self.truncate:
            raise InputError(f"{what} has {count} tokens, over the limit of {max_tokens}")
        return self.cut_to_tokens(text, max_tokens)

    def single_token_ids(self, words: Sequence[str]) -> list[int]:
        """Ids of those words that the tokenizer encodes as exactly one token."""
        ids = []
        for word in words:
            encoded = self.encode(word)
            if len(encoded) == 1 and encoded[0] not in ids:
                ids.append(encoded[0])
        return ids


def role_prefixed(messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    """Plain role-prefixed turns, for models without a chat template."""
    turns = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages)
    return turns + ("Assistant:" if add_generation_prompt else "")


class PromptEncoding:
    """For language-model backends: prompt helpers delegated to their `text` side, and the length check."""

    text: TextSideBase
    max_length: int

    def encode(self, text: str) -> list[int]:
        return self.text.encode(text)

    def chat_prefix(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.text.chat_prefix(messages, add_generation_prompt)

    def default_prefix_ids(self) -> list[int]:
        return self.text.default_prefix_ids()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(self.text.encode(text)) for text in texts]

    def cut_to_tokens(self, text: str, max_tokens: int) -> str:
        return self.text.cut_to_tokens(text, max_tokens)  # one truncation per tokenizer, the text side's

    def special_token_count(self) -> int:
        return 0  # language-model prompts carry their special tokens in the text

    def top_entries(self, log_probs: Any, k: int) -> dict[str, float]:
        """The k largest entries of one full next-token log-prob row as {token text: log P}, keyed as an
        OpenAI-compatible server keys `top_logprobs` (a later id whose text repeats an earlier one's wins,
        as in that dictionary)."""
        import numpy as np

        k = min(k, len(log_probs))
        best = np.argpartition(-log_probs, k - 1)[:k]
        best = best[np.argsort(-log_probs[best], kind="stable")]
        return {self.text.decode([int(i)]): float(log_probs[i]) for i in best}

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        if not isinstance(self.text, HFTokenCounting):
            raise UnsupportedMethodError(
                f"{self.text.label}: splitting long documents needs a Hugging Face "
                "tokenizer's character offsets, which this backend has not"
            )
        return self.text.token_offsets(text)

    def _check_length(self, ids: Sequence[int]) -> None:
        if len(ids) > self.max_length:
            raise InputError(f"prompt has {len(ids)} tokens, over the model's limit of {self.max_length}")


class ChatTokenizer(HFTokenCounting, TextSideBase):
    """A Hugging Face tokenizer as a language model's text side; it cuts text at character offsets (the kept
    text is the original's prefix), as every Hugging Face backend does."""

    def __init__(self, tokenizer: Any, label: str, truncate: bool = True):
        self.tokenizer = tokenizer
        self.label = label
        self.truncate = truncate

    @classmethod
    def load(cls, path: str, label: str | None = None) -> ChatTokenizer:
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(path), label or path)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def default_prefix_ids(self) -> list[int]:
        """What `tokenizer(text)` adds before the text's own ids (Llama's <s>, BERT's [CLS]; nothing for Qwen)."""
        plain = self.tokenizer("a", add_special_tokens=False)["input_ids"]
        full = self.tokenizer("a", add_special_tokens=True)["input_ids"]
        start = next((i for i in range(len(full) - len(plain) + 1) if full[i : i + len(plain)] == plain), 0)
        return list(full[:start])

    def chat_prefix(
        self, messages: list[dict[str, str]], add_generation_prompt: bool = True, enable_thinking: bool | None = None
    ) -> str:
        """The chat template rendered to text; models without one get plain role-prefixed turns.
        `enable_thinking` is passed to templates that read it (Qwen3's: False writes the empty think block)."""
        if getattr(self.tokenizer, "chat_template", None):
            variables = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=add_generation_prompt, **variables
            )
        return role_prefixed(messages, add_generation_prompt)
