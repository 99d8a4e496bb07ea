"""Prompt templates are data: a method formats one of these, it does not branch on the model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ChatPrompt:
    system: str | None
    user: str

    def messages(self, **fields: str) -> list[dict[str, str]]:
        turns = [{"role": "system", "content": self.system}] if self.system else []
        return turns + [{"role": "user", "content": self.user.format(**fields)}]


RELEVANCE_YES_NO = ChatPrompt(
    system=None,
    user="Passage: {passage}\nQuery: {query}\nDoes the passage answer the query? Answer 'Yes' or 'No'.",
)

# UPR (Sachan et al., 2022): how likely is the query as a question written from the passage.
QUERY_GENERATION = ChatPrompt(
    system=None,
    user="Passage: {passage}\nPlease write a question based on this passage.",
)

# Names accepted for the `prompt` option (`-O prompt=NAME`); a ChatPrompt object works from Python too.
QUERY_GENERATION_PROMPTS = {"upr": QUERY_GENERATION}


@dataclass(frozen=True)
class Conversation:
    """A chat format as FastChat's conversation templates write it (`SeparatorStyle.ADD_COLON_TWO`), for
    checkpoints trained through FastChat whose tokenizer carries no chat template (RankVicuna): the system
    text, then "ROLE: message" turns closed by `sep` after a user turn and `sep2` after an assistant turn, and
    "ASSISTANT:" where the model answers. The first message may be the system's; without one the format's
    own `system` is used."""

    system: str
    roles: tuple[str, str] = ("USER", "ASSISTANT")
    sep: str = " "
    sep2: str = "</s>"

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        system = self.system
        if messages and messages[0]["role"] == "system":
            system, messages = messages[0]["content"], messages[1:]
        text, seps = system + self.sep, (self.sep, self.sep2)
        for i, message in enumerate(messages):
            role = self.roles[0] if message["role"] == "user" else self.roles[1]
            text += f"{role}: {message['content']}{seps[i % 2]}"
        return text + (f"{self.roles[1]}:" if add_generation_prompt else "")


# FastChat 0.2.36 `vicuna_v1.1` (fastchat/conversation.py), what `get_conversation_template` gives any model
# path holding "vicuna" (castorini/rank_vicuna_7b_v1).
VICUNA_V1_1 = Conversation(
    system="A chat between a curious user and an artificial intelligence assistant. The "
    "assistant gives helpful, detailed, and polite answers to the user's questions."
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

YES_NO_PROMPTS = {
    "relevance_yes_no": RELEVANCE_YES_NO,
    "qwen3_reranker": QWEN3_RERANKER,
    "mxbai_rerank_v2": MXBAI_RERANK_V2,
    "bge_reranker_gemma": BGE_RERANKER_GEMMA,
}


@dataclass(frozen=True)
class ThinkClosing:
    """How a think block ends: the tag the model closes it with, and what the method writes when the budget
    runs out first (`forced_close`, the reasoning so far in `{reasoning}`), after which the answer is read as
    usual. `trim_to_sentence` cuts an unfinished reasoning back to its last full sentence first (Rank1)."""

    think_close: str = "</think>"
    forced_close: str = "\n{reasoning}\n</think>"
    trim_to_sentence: bool = False


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

REASONING_PROMPTS = {"rank1": RANK1, "relevance_reasoning": RELEVANCE_REASONING}
GRADED_PROMPTS = {"graded_relevance": GRADED_RELEVANCE, "tfrank": TFRANK}


@dataclass(frozen=True)
class SetPrompt:
    """A setwise reasoning prompt: a system turn and a user turn holding the query and the passages, each
    passage written as `passage` ({label}, {text}) and joined by `separator`."""

    system: str
    user: str  # holds {query} and {docs}
    passage: str = "[{label}] {text}"
    separator: str = "\n"

    def messages(self, query: str, labels: list[str], passages: list[str]) -> list[dict[str, str]]:
        docs = self.separator.join(self.passage.format(label=label, text=text) for label, text in zip(labels, passages))
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user.format(query=query, docs=docs)},
        ]


# Rank-R1 (ielabgroup/Rank-R1-*; ielab/llm-rankers, Rank-R1/prompts/prompt_setwise-R1.toml and
# llmrankers/setwise.py RankR1SetwiseLlmRanker.compare: "[i] text" joined by newlines).
RANK_R1 = SetPrompt(
    system="A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
    "assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> "
    "tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>.",
    user='Given the query: "{query}", which of the following documents is most relevant?\n{docs}\nAfter '
    "completing the reasoning process, please provide only the label of the most relevant document to the "
    "query, enclosed in square brackets, within the answer tags. For example, if the third document is the most "
    "relevant, the answer should be: <think> reasoning process here </think> <answer>[3]</answer>.",
)

SET_PROMPTS = {"rank_r1": RANK_R1}


@dataclass(frozen=True)
class GroupPrompt:
    """A groupwise grading prompt: the query and a group of passages as [1] [2] ..., the model answers one
    grade per passage ("[1]: 7"), after thinking in the given closing's think block when it has a budget."""

    text: str  # holds {query}, {docs}, {count} and {max_grade}
    passage: str = "[{label}] {text}"
    separator: str = "\n"
    closing: ThinkClosing = ThinkClosing(forced_close="{reasoning}\n</think>\n\n")
    opening: str = "<think>\n"

    def prompt_text(self, render_chat: Any, query: str, passages: list[str], max_grade: int) -> str:
        docs = self.separator.join(self.passage.format(label=i + 1, text=text) for i, text in enumerate(passages))
        body = self.text.format(query=query, docs=docs, count=len(passages), max_grade=max_grade)
        return render_chat([{"role": "user", "content": body}]) + self.opening


# GroupRank-style grading of a whole group in one answer.
GROUP_GRADES = GroupPrompt(
    text="Judge how relevant each of the {count} passages below is to the query, on a scale from 0 (irrelevant) "
    "to {max_grade} (perfectly relevant).\nQuery: {query}\n{docs}\nThink inside <think> </think>, then answer "
    "with one line per passage in the form [1]: score.",
)

GROUP_PROMPTS = {"group_grades": GROUP_GRADES}
