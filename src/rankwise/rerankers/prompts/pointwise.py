"""Pointwise prompts (one passage, yes/no, a grade, a reasoning), the list prompts of setwise and groupwise
reasoning, and the raw-text shapes that checkpoints' own code builds (`SegmentedPrompt`, `PairTemplate`,
`ReasoningPrompt`). Prompts are data: a method formats one of these, it does not branch on the model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rankwise.rerankers.prompts.shapes import ChatPrompt, ListPrompt, ThinkClosing

RELEVANCE_YES_NO = ChatPrompt(
    system=None,
    user="Passage: {passage}\nQuery: {query}\nDoes the passage answer the query? Answer 'Yes' or 'No'.",
)

# UPR (Sachan et al., 2022): how likely is the query as a question written from the passage.
QUERY_GENERATION = ChatPrompt(
    system=None,
    user="Passage: {passage}\nPlease write a question based on this passage.",
)


@dataclass(frozen=True)
class SegmentedPrompt:
    """A prompt written out as a checkpoint's own reference code builds it, without a chat template: the
    prefix, the body and the suffix are tokenized separately and their ids joined, so no token merges across
    the seams. Only the body is cut when the prompt is over the limit (from its end, where the passage is),
    never the suffix the model reads its answer after. `instruction` fills `{instruction}` unless the user
    gives their own."""

    prefix: str
    body: str  # holds {query} and {passage}, and {instruction} where the checkpoint takes one
    suffix: str
    instruction: str = ""

    def segments(self, query: str, passage: str, instruction: str | None = None) -> tuple[str, str, str]:
        fields = {
            "query": query,
            "passage": passage,
            "instruction": self.instruction if instruction is None else instruction,
        }
        return self.prefix, self.body.format(**fields), self.suffix


# Qwen3-Reranker (Qwen/Qwen3-Reranker-0.6B/4B/8B model card, "Transformers Usage"): the system text and the
# empty think block are part of the prompt the model was trained with.
QWEN3_RERANKER = SegmentedPrompt(
    prefix="<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n',
    body="<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {passage}",
    suffix="<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    instruction="Given a web search query, retrieve relevant passages that answer the query",
)


@dataclass(frozen=True)
class PairTemplate:
    """The layout of mixedbread's v2 and FlagEmbedding's LLM rerankers: the query and the passage are tokenized
    apart, each under its own budget (the query `query_share`, the passage `passage_share` of `max_length`),
    joined by `separator`, the pair cut to `max_length` from the passage's end, and then put between `prefix`
    and `suffix` (tokenized apart too), which are never cut. `instruction` goes before the query, joined by
    the separator, when the template has an `instruction_text`."""

    prefix: str
    query: str  # holds {query}
    separator: str
    passage: str  # holds {passage}
    suffix: tuple[str, ...]  # pieces tokenized apart, as the reference code does
    max_length: int
    query_share: float = 0.75
    passage_share: float = 1.0
    instruction_text: str = ""  # holds {instruction}; empty: the template takes none
    # FlagEmbedding counts the prefix (its BOS) in the pair and lets the pair run to max_length plus the
    # suffix's length; mixedbread limits the pair alone to max_length.
    prefix_in_pair: bool = False
    suffix_extends_pair: bool = False


# mixedbread-ai/mxbai-rerank-base-v2 / -large-v2, as mixedbread's mxbai-rerank package builds it (also
# rerankers 0.10's MxBaiV2Ranker, "adapted from the Apache 2.0 licensed original codebase"): Qwen's default
# system turn, then the pair, then the task, answered with "1" or "0".
MXBAI_RERANK_V2 = PairTemplate(
    prefix="<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n",
    query="query: {query}",
    separator="\n",
    passage="document: {passage}",
    suffix=(
        "\n",
        "You are a search relevance expert who evaluates how well documents match search queries. For each "
        "query-document pair, carefully analyze the semantic relationship between them, then provide your "
        "binary relevance judgment (0 for not relevant, 1 for relevant).\nRelevance:",
        "<|im_end|>\n<|im_start|>assistant\n",
    ),
    max_length=8192,
    passage_share=0.25,
    instruction_text="instruction: {instruction}",
)

# BAAI/bge-reranker-v2-gemma, as FlagEmbedding's LLM reranker (BaseLLMReranker.compute_score) builds it:
# BOS, "A: query", "\n", "B: passage", then "\n" and the task; the score is the raw logit of "Yes".
BGE_RERANKER_GEMMA = PairTemplate(
    prefix="<bos>",
    query="A: {query}",
    separator="\n",
    passage="B: {passage}",
    suffix=(
        "\n",
        "Given a query A and a passage B, determine whether the passage contains an answer to the query "
        "by providing a prediction of either 'Yes' or 'No'.",
    ),
    max_length=512,
    prefix_in_pair=True,
    suffix_extends_pair=True,
)

# BAAI/bge-reranker-v2-minicpm-layerwise, as FlagEmbedding's LayerWiseFlagLLMReranker builds it: the same layout
# and task as the Gemma reranker's, after MiniCPM's BOS; the score is a per-layer head's, not a token's logit.
BGE_RERANKER_LAYERWISE = dataclasses.replace(BGE_RERANKER_GEMMA, prefix="<s>")


@dataclass(frozen=True)
class ReasoningPrompt:
    """A reasoning reranker's prompt: the text the model continues (raw, as the checkpoint's own code builds
    it, or as a user turn of the chat template with `chat=True`), ending where its thinking starts, and how
    its think block closes."""

    text: str  # holds {query} and {passage}
    closing: ThinkClosing = ThinkClosing()
    chat: bool = False
    opening: str = ""  # written after the chat template's generation prompt (e.g. "<think>\n")
    answer_prefix: str = ""  # written after the closed think block, before the answer is read
    thinks: bool = True  # False: the prompt writes its own empty think block, so a reasoning budget is refused

    def prompt_text(self, render_chat: Any, query: str, passage: str, **fields: Any) -> str:
        body = self.text.format(query=query, passage=passage, **fields)
        return (render_chat([{"role": "user", "content": body}]) + self.opening) if self.chat else body


# Rank1 (jhu-clsp/rank1-*; orionw/rank1, rank1.py `return_prompt` and `_fix_incomplete_responses`): raw text
# that opens the think block itself; an unfinished reasoning is cut to its last sentence and closed.
RANK1 = ReasoningPrompt(
    text="Determine if the following passage is relevant to the query. Answer only with 'true' or 'false'.\n"
    "Query: {query}\nPassage: {passage}\n<think>",
    closing=ThinkClosing(trim_to_sentence=True),
)

# A generic reasoning prompt for instruct models without a preset (the chat template, then a think block).
RELEVANCE_REASONING = ReasoningPrompt(
    text="Determine if the following passage is relevant to the query. Think step by step inside <think> "
    "</think>, then answer only with 'true' or 'false'.\nQuery: {query}\nPassage: {passage}",
    chat=True,
    opening="<think>\n",
)

# Fine-grained pointwise (ERank / TFRank style): an integer grade, read as the expected grade over the grade
# tokens; with no budget the think block is written empty ("<think>\n\n</think>\n\n", the think-free mode).
GRADED_RELEVANCE = ReasoningPrompt(
    text="Judge how relevant the passage is to the query on a scale from 0 (irrelevant) to {max_grade} (perfectly "
    "relevant). Think inside <think> </think>, then give only the integer score.\nQuery: {query}\n"
    "Passage: {passage}",
    closing=ThinkClosing(forced_close="{reasoning}\n</think>\n\n"),
    chat=True,
    opening="<think>\n",
    answer_prefix="Score: ",
)

# TFRank (Johnnyfans/TFRank-*; JOHNNY-fans/TFRank, evaluation/tfrank_demo.py `_build_input` and run_eval.py
# `build_completion_prompt` as the demo calls it: think_mode=False, reasoning_model=True, try_num=0): raw
# ChatML with a newline before each <|im_end|>, " /no think" after the input, and the empty think block
# written by the prompt. Think mode (" /think") builds another prompt, which this one does not cover.
TFRANK_SYSTEM = "Based on the relevance of the Documents to the Query and the Instruct provided to complete the task."
TFRANK_INPUT = (
    "<Instruct>: Please judge the relevance strength between the query and the document, and directly output the "
    "relevance judgment (yes or no), followed by the relevance score in parentheses, e.g., yes(score) or "
    "no(score).\n\n\n"
    "- Relevance scores are represented by numbers from 0 to 4, with the following meanings:\n"
    "0 means completely irrelevant,\n1 means weakly relevant,\n2 means moderately relevant,\n"
    "3 means strongly relevant,\n4 means completely relevant.\n\n"
    "- For binary relevance judgment (yes or no), the rule is:\n"
    'Scores 0 and 1 are considered irrelevant and represented as "no",\n'
    'Scores 2, 3, and 4 are considered relevant and represented as "yes".\n\n\n'
    "<Query>: {query}\n\n\n"
    "<Document>: {passage}"
)
TFRANK = ReasoningPrompt(
    text=(
        "<|im_start|>system\n"
        + TFRANK_SYSTEM
        + "\n<|im_end|>\n<|im_start|>user\n"
        + TFRANK_INPUT
        + " /no think\n<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    ),
    closing=ThinkClosing(forced_close=""),
    thinks=False,
)


# Rank-R1 (ielabgroup/Rank-R1-*; ielab/llm-rankers, Rank-R1/prompts/prompt_setwise-R1.toml and
# llmrankers/setwise.py RankR1SetwiseLlmRanker.compare: "[i] text" joined by newlines).
RANK_R1 = ListPrompt(
    system="A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
    "assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
    "tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>.",
    user='Given the query: "{query}", which of the following documents is most relevant?\n{passages}\nAfter '
    "completing the reasoning process, please provide only the label of the most relevant document to the "
    "query, enclosed in square brackets, within the answer tags. For example, if the third document is the most "
    "relevant, the answer should be: <think> reasoning process here </think> <answer>[3]</answer>.",
    escape_identifiers=False,  # the method cuts the passages by tokens; they are shown as written
    # the answer follows the think block inside <answer> tags: a forced closing opens them
    closing=ThinkClosing(think_close="</think>", forced_close="{reasoning}\n</think>\n<answer>"),
)


# GroupRank-style grading of a whole group in one answer.
GROUP_GRADES = ListPrompt(
    system=None,
    user="Judge how relevant each of the {count} passages below is to the query, on a scale from 0 (irrelevant) "
    "to {max_grade} (perfectly relevant).\nQuery: {query}\n{passages}\nThink inside <think> </think>, then answer "
    "with one line per passage in the form [1]: score.",
    escape_identifiers=False,
    opening="<think>\n",
    closing=ThinkClosing(forced_close="{reasoning}\n</think>\n\n"),
)
