"""A `PairTemplate` prompt as token ids: the layout of FlagEmbedding's and mixedbread's LLM rerankers, where the
query and the passage are tokenized apart, each under its own budget, and the template's fixed pieces are never
cut. Shared by every method that scores such a prompt (yes/no logits, per-layer heads)."""

from __future__ import annotations

import functools
from typing import Any

from rankwise.errors import InputError
from rankwise.rerankers.prompts.pointwise import PairTemplate


class PairTemplateEncoder:
    """`lm` is any backend with `encode`, `max_length` and a text side saying whether to truncate."""

    def __init__(
        self, lm: Any, template: PairTemplate, max_prompt_tokens: int | None = None, instruction: str | None = None
    ):
        self.lm, self.template = lm, template
        self.max_prompt_tokens, self.instruction = max_prompt_tokens, instruction

    @functools.cached_property
    def _fixed_ids(self) -> tuple[list[int], list[int], list[int]]:
        """The template's fixed pieces (prefix, separator, suffix), encoded once."""
        template, encode = self.template, self.lm.encode
        return (
            encode(template.prefix),
            encode(template.separator),
            [token for piece in template.suffix for token in encode(piece)],
        )

    def __call__(self, query: str, passage: str, docid: str, instruction: str | None = None) -> list[int]:
        """The query and passage under their own budgets, the pair cut from the passage's end to `max_length`
        (shrunk when template and pair would pass the model's context)."""
        template = self.template
        encode = self.lm.encode
        prefix, separator, suffix = self._fixed_ids
        fixed = len(prefix) + len(suffix)
        limit = min(self.max_prompt_tokens or template.max_length, self.lm.max_length - fixed)
        pair_limit = (
            limit
            + (len(suffix) if template.suffix_extends_pair else 0)
            - (len(prefix) if template.prefix_in_pair else 0)
        )
        # FlagEmbedding lets the pair run past its limit by the suffix's length; never past the model's context
        pair_limit = min(pair_limit, self.lm.max_length - fixed)
        query_text = template.query.format(query=query)
        instruction = instruction if instruction is not None else self.instruction
        if template.instruction_text and instruction:
            query_text = template.instruction_text.format(instruction=instruction) + template.separator + query_text
        query_ids, passage_ids = encode(query_text), encode(template.passage.format(passage=passage))
        caps = (int(limit * template.query_share), int(limit * template.passage_share))
        total = len(query_ids) + len(separator) + len(passage_ids)
        if (len(query_ids) > caps[0] or len(passage_ids) > caps[1] or total > pair_limit) and not self.lm.text.truncate:
            raise InputError(
                f"the prompt for passage {docid!r} is over its limit of {pair_limit} tokens "
                f"(query {len(query_ids)}, passage {len(passage_ids)})"
            )
        pair = query_ids[: caps[0]] + separator + passage_ids[: caps[1]]
        return prefix + pair[:pair_limit] + suffix
