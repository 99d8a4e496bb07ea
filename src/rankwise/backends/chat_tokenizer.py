"""Text-side helpers over a Hugging Face tokenizer: chat-template rendering, encoding without special
tokens, truncation by tokens, and single-token word lookup. Kept apart from the model so that
tokenizer-only analyses (FIRST's identifier scheme) need no weights."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankwise.errors import InputError, UnsupportedMethodError


class TextSideBase:
    """What every tokenizer side derives from encode/decode: truncation by tokens and single-token lookup."""

    label: str
    truncate: bool

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        raise NotImplementedError

    def truncate_text(self, text: str, max_tokens: int, what: str = "passage") -> str:
        """Cut text to at most `max_tokens` tokens, or raise when truncation is turned off."""
        ids = self.encode(text)
        if len(ids) <= max_tokens:
            return text
        if not self.truncate:
            raise InputError(f"{what} has {len(ids)} tokens, over the limit of {max_tokens}")
        return self.decode(ids[:max_tokens])

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

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(self.text.encode(text)) for text in texts]

    def cut_to_tokens(self, text: str, max_tokens: int) -> str:
        ids = self.text.encode(text)
        return text if len(ids) <= max_tokens else self.text.decode(ids[:max_tokens])

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        tokenizer = getattr(self.text, "tokenizer", None)
        if tokenizer is None:
            raise UnsupportedMethodError(f"{self.text.label}: splitting long documents needs a Hugging Face "
                                         "tokenizer's character offsets, which this backend has not")
        return [tuple(span) for span in tokenizer(text, add_special_tokens=False,
                                                  return_offsets_mapping=True)["offset_mapping"]]

    def _check_length(self, ids: Sequence[int]) -> None:
        if len(ids) > self.max_length:
            raise InputError(f"prompt has {len(ids)} tokens, over the model's limit of {self.max_length}")


class ChatTokenizer(TextSideBase):
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

    def chat_prefix(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """The chat template rendered to text; models without one get plain role-prefixed turns."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                      add_generation_prompt=add_generation_prompt)
        return role_prefixed(messages, add_generation_prompt)
