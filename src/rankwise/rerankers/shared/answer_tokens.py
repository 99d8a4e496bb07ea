"""The answer tokens a method reads the logits of, given as one comma-separated option ('YES,NO',
'▁false,▁true', '<extra_id_10>'): one parser for every method; each backend looks the words up its own way
(a causal LM's tokenizer must encode each to one token, a seq2seq vocabulary must hold each as written)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeVar

from rankwise.backends.interface import LanguageModel
from rankwise.errors import OptionError, UnsupportedMethodError

TokenId = TypeVar("TokenId")  # an id, or the ids of a word's spellings


def split_answer_tokens(answer_tokens: str, shape: str, counts: Collection[int] = (2,)) -> list[str]:
    """The words of `answer_tokens`, refused unless there are `counts` of them and none is empty; `shape`
    names the expected form in the error ('YES,NO')."""
    words = answer_tokens.split(",") if isinstance(answer_tokens, str) else []
    if len(words) not in counts or not all(words):
        how_many = " or ".join(str(c) for c in sorted(counts))
        raise OptionError(
            f"option answer_tokens must be {shape} ({how_many} comma-separated tokens), got {answer_tokens!r}"
        )
    return words


def answer_token_ids(
    answer_tokens: str, shape: str, lookup: Callable[[str], TokenId], counts: Collection[int] = (2,)
) -> list[TokenId]:
    """The ids `lookup` gives each word of `answer_tokens` (it raises for a word the model lacks)."""
    return [lookup(word) for word in split_answer_tokens(answer_tokens, shape, counts)]


def answer_token_pair(
    lm: LanguageModel, answer_tokens: str, model_label: str, shape: str
) -> tuple[list[int], list[int]]:
    """The ids of the two comma-separated answer tokens, each required to be one token of the tokenizer."""

    def single_token(word: str) -> list[int]:
        found = lm.text.single_token_ids([word])
        if not found:
            raise UnsupportedMethodError(
                f"{model_label}: {word!r} is not one token of this tokenizer, so "
                "its probability cannot be read from one next-token distribution"
            )
        return found

    first, second = answer_token_ids(answer_tokens, shape, single_token)
    return first, second
