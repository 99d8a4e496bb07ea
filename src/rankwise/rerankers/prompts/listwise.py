"""Listwise prompts: identifier alphabets, the RankZephyr/FIRST prompt as data, passage escaping and
truncation, and parsing a generated ranking into a permutation that is always valid."""

from __future__ import annotations

import dataclasses
import re
import string
from dataclasses import dataclass
from typing import Union

from rankwise.errors import OptionError
from rankwise.rerankers.prompts.shapes import (
    MISTRAL_INST,
    VICUNA_V1_1,
    ChatRenderer,
    Conversation,
    InstConversation,
    ListPrompt,
)

IDENTIFIER_ALPHABETS = {
    "alpha": list(string.ascii_uppercase),  # [A] [B] ... as in FIRST
    "numeric": [str(i) for i in range(1, 101)],  # [1] [2] ... as in RankGPT
}


def identifiers(alphabet: str, count: int) -> list[str]:
    if alphabet not in IDENTIFIER_ALPHABETS:
        raise OptionError(f"unknown identifier alphabet {alphabet!r}; choose {', '.join(IDENTIFIER_ALPHABETS)}")
    pool = IDENTIFIER_ALPHABETS[alphabet]
    if count > len(pool):
        raise OptionError(f"a window of {count} passages needs more than the {len(pool)} {alphabet} identifiers")
    return pool[:count]


RANK_ZEPHYR = ListPrompt(
    system="You are RankLLM, an intelligent assistant that can rank passages based on their relevancy to the query.",
    user="I will provide you with {count} passages, each indicated by {identifier} []. "
    "Rank the passages based on their relevance to the search query: {query}.\n\n{passages}\n"
    "Search Query: {query}.\nRank the {count} passages above based on their relevance to the search query. "
    "All the passages should be included and listed using identifiers, in descending order of relevance. "
    "The output format should be [] > [], e.g., {example}, Only respond with the ranking results, "
    "do not say any word or explain.",
    example="[{second}] > [{first}]",
    # "a alphabetical" is RankZephyr's training prompt verbatim: the fine-tuned models saw exactly it.
    identifier_words={"alpha": "a alphabetical identifier", "numeric": "a numerical identifier"},
)

RANK_GPT = ListPrompt(
    system="You are RankGPT, an intelligent assistant that can rank passages based on their relevancy to the query.",
    user="I will provide you with {count} passages, each indicated by {identifier} []. "
    "Rank the passages based on their relevance to query: {query}.\n\n{passages}\n"
    "Search Query: {query}. \nRank the {count} passages above based on their relevance to the search query. "
    "The passages should be listed in descending order using identifiers. The most relevant passages "
    "should be listed first. The output format should be [] > [], e.g., {example}. "
    "Only response the ranking results, do not say any word or explain.",
    example="[{second}] > [{first}]",
    identifier_words={"alpha": "letter identifier", "numeric": "number identifier"},
)


@dataclass(frozen=True)
class RankLLMTemplate:
    """One of rank_llm 0.26's YAML prompt templates as data (rank_llm/rerank/prompt_templates/*.yaml).
    Single-turn: the user turn is prefix + one `passage` line per passage + suffix. Multi-turn (RankGPT):
    the prefix is a user turn answered by `prefix_reply`, each passage a user turn answered by
    `passage_reply`, and the suffix a last user turn."""

    system: str
    prefix: str  # {count}, {query}
    passage: str  # {label}, {passage}
    suffix: str  # {count}, {query}
    prefix_reply: str | None = None
    passage_reply: str = ""

    def messages(self, query: str, labels: list[str], passages: list[str]) -> list[dict[str, str]]:
        fields = {"count": len(labels), "query": query}
        turns = [{"role": "system", "content": self.system}]
        if self.prefix_reply is None:
            body = "".join(self.passage.format(label=label, passage=text) for label, text in zip(labels, passages))
            return turns + [
                {"role": "user", "content": self.prefix.format(**fields) + body + self.suffix.format(**fields)}
            ]
        turns += [
            {"role": "user", "content": self.prefix.format(**fields)},
            {"role": "assistant", "content": self.prefix_reply},
        ]
        for label, text in zip(labels, passages):
            turns += [
                {"role": "user", "content": self.passage.format(label=label, passage=text)},
                {"role": "assistant", "content": self.passage_reply.format(label=label)},
            ]
        return turns + [{"role": "user", "content": self.suffix.format(**fields)}]


@dataclass(frozen=True)
class RankLLMPrompt:
    """rank_llm 0.26's prompt, with its own passage and query preparation: whitespace collapsed, ftfy's text
    repair, the first `max_words` words, and only numeric [n] in the text rewritten as (n). rank_llm keeps a
    separate template for letter identifiers (`alpha`) where the wording differs."""

    numeric: RankLLMTemplate
    alpha: RankLLMTemplate | None = None
    conversation: Conversation | None = None  # a chat format rank_llm forces on the tokenizer (RankVicuna)

    def messages(self, query: str, labels: list[str], passages: list[str]) -> list[dict[str, str]]:
        alphabetic = bool(labels) and not labels[0].isdigit()
        template = self.alpha if alphabetic and self.alpha is not None else self.numeric
        return template.messages(numbers_escaped(_repaired(query)), labels, passages)

    def prepare_passage(self, text: str, max_words: int) -> str:
        return rank_llm_passage(text, max_words)

    def chat_text(self, chat_prefix: ChatRenderer, messages: list[dict[str, str]]) -> str:
        return self.conversation.render(messages) if self.conversation else chat_prefix(messages)

    @property
    def tokenized_with_defaults(self) -> bool:
        """A forced chat format is rendered as text that the tokenizer then reads with its default special
        tokens (vLLM's generate over a text prompt), so a Llama BOS comes first."""
        return self.conversation is not None


@dataclass(frozen=True)
class FastChatPrompt:
    """rank_llm's listwise prompt before its YAML templates, as its code rendered it for a FastChat model
    (RankVicuna): the user turn inside FastChat's conversation format instead of the tokenizer's chat
    template, ftfy's repair over the whole prompt, and in passages only numeric [n] rewritten as (n)."""

    body: ListPrompt
    conversation: Conversation | InstConversation
    # RUC-NLPIR/fullrank's later copy of that code (RankMistral100): the query's numeric [n] rewritten too and
    # stripped, and each passage repaired by ftfy before its words are cut (`convert_doc_to_prompt_content`).
    fullrank: bool = False

    def prepare_passage(self, text: str, max_words: int) -> str:
        if self.fullrank:
            return rank_llm_passage(text, max_words)
        return numbers_escaped(first_words(text, max_words))

    def messages(self, query: str, labels: list[str], passages: list[str]) -> list[dict[str, str]]:
        if self.fullrank:
            query = numbers_escaped(query).strip()
        return self.body.messages(query, labels, passages)

    def chat_text(self, chat_prefix: ChatRenderer, messages: list[dict[str, str]]) -> str:
        return _repaired(self.conversation.render(messages))

    # rank_llm's `self._tokenizer([prompt])` and fullrank's vLLM `generate(prompts)` tokenize the FastChat text
    # with the tokenizer's default special tokens: a Llama or Mistral BOS comes first.
    tokenized_with_defaults = True


def rank_llm_passage(text: str, max_words: int) -> str:
    """A passage as rank_llm 0.26 puts it in any prompt: stripped, repaired by ftfy, its first `max_words`
    words joined by single spaces, numeric [n] rewritten as (n)."""
    return numbers_escaped(" ".join(_repaired(text.strip()).split()[:max_words]))


def _repaired(text: str) -> str:
    from ftfy import fix_text

    return fix_text(text)


def first_words(text: str, max_words: int) -> str:
    """A passage as rank_llm's FastChat-era code and DeAR cut it: a leading "Title: Content: " dropped (an empty
    title's), stripped, its first `max_words` words joined by single spaces."""
    return " ".join(text.replace("Title: Content: ", "").strip().split()[:max_words])


def numbers_escaped(text: str) -> str:
    return re.sub(r"\[(\d+)\]", r"(\1)", text)


_ZEPHYR_SYSTEM = (
    "You are RankLLM, an intelligent assistant that can rank passages based on their relevancy to the query"
)
_ZEPHYR_SUFFIX = (
    "Search Query: {{query}}.\nRank the {{count}} passages above based on their relevance to the search "
    "query. All the passages should be included and listed using identifiers, in descending order of "
    "relevance. The output format should be [] > [], e.g., {example}, Answer concisely and directly and "
    "only respond with the ranking results, do not say any word or explain."
)
_ZEPHYR_PREFIX = (
    "I will provide you with {{count}} passages, each indicated by {identifier} []. Rank the passages "
    "based on their relevance to the search query: {{query}}.\n"
)

# rank_llm 0.26: rank_zephyr_template.yaml and rank_zephyr_alpha_template.yaml.
RANK_ZEPHYR_V026 = RankLLMPrompt(
    numeric=RankLLMTemplate(
        _ZEPHYR_SYSTEM,
        _ZEPHYR_PREFIX.format(identifier="a numerical identifier"),
        "[{label}] {passage}\n",
        _ZEPHYR_SUFFIX.format(example="[2] > [1]"),
    ),
    alpha=RankLLMTemplate(
        _ZEPHYR_SYSTEM,
        _ZEPHYR_PREFIX.format(identifier="an alphabetical identifier"),
        "[{label}] {passage}\n",
        _ZEPHYR_SUFFIX.format(example="[B] > [A]"),
    ),
)

# rank_llm 0.26: rank_gpt_template.yaml (multi-turn; the same words for either identifier alphabet).
RANK_GPT_V026 = RankLLMPrompt(
    numeric=RankLLMTemplate(
        system="You are RankGPT, an intelligent assistant that can rank passages based on their relevancy to the "
        "query.",
        prefix="I will provide you with {count} passages, each indicated by number identifier [].\nRank the passages "
        "based on their relevance to query: {query}.",
        prefix_reply="Okay, please provide the passages.",
        passage="[{label}] {passage}",
        passage_reply="Received passage [{label}].",
        suffix="Search Query: {query}.\nRank the {count} passages above based on their relevance to the search query. "
        "The passages should be listed in descending order using identifiers. The most relevant passages should "
        "be listed first. The output format should be [] > [], e.g., [1] > [2]. Only response the ranking "
        "results, do not say any word or explain.",
    )
)

# rank_llm 0.26: reasonrank_template.yaml (ReasonRank, liuwenhan/reasonrank-*): the model reasons inside
# <think> </think> and gives the ranking inside <answer> </answer>.
REASONRANK = RankLLMPrompt(
    numeric=RankLLMTemplate(
        system="You are RankLLM, an intelligent assistant that can rank passages based on their relevance to the "
        "query. Given a query and a passage list, you first thinks about the reasoning process in the mind and then "
        "provides the answer (i.e., the reranked passage list). The reasoning process and answer are enclosed "
        "within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process "
        "here </think> <answer> answer here </answer>.",
        prefix=_ZEPHYR_PREFIX.format(identifier="a numerical identifier"),
        passage="[{label}] {passage}\n",
        suffix="Search Query: {query}.\nRank the {count} passages above based on their relevance to the search query. "
        "All the passages should be included and listed using identifiers, in descending order of relevance. "
        "The format of the answer should be [] > [], e.g., [2] > [1].",
    )
)


# Rank-K (hltcoe/Rank-K-32B): hltcoe/rank-k rerank.py `rank_k_prompt` (with its leading and trailing newline)
# and utils.py `combine_passages` ("[i] text" joined by blank lines), sent as the only user message.
RANK_K = ListPrompt(
    system=None,
    user=(
        "\nDetermine a ranking of the passages based on how relevant they are to the query. \n"
        "If the query is a question, how relevant a passage is depends on how well it answers the question. \n"
        "If not, try analyze the intent of the query and assess how well each passage satisfy the intent. \n"
        "The query may have typos and passages may contain contradicting information. \n"
        "However, we do not get into fact-checking. We just rank the passages based on they relevancy to the query. \n"
        "\n"
        "Sort them from the most relevant to the least. \n"
        "Answer with the passage number using a format of `[3] > [2] > [4] = [1] > [5]`. \n"
        "Ties are acceptable if they are equally relevant. \n"
        "I need you to be accurate but overthinking it is unnecessary.\n"
        "Output only the ordering without any other text.\n"
        "\n"
        "Query: {query}\n"
        "\n"
        "{passages}\n"
    ),
    separator="\n\n",
    escape_identifiers=False,  # Rank-K shows passages as written, cut only when over the word limit
)

# RankVicuna (castorini/rank_vicuna_7b_v1): rank_llm's early rank_vicuna.py (castorini/rank_llm,
# src/rank_llm/rank_vicuna.py: FastChat's get_conversation_template with its default system message, the
# RankZephyr words with the fixed example "[4] > [2]" of a 20-passage window, fix_text over the prompt). It
# answers after a single space ("... explain. ASSISTANT:"), as FastChat trains and later rank_llm renders.
RANK_VICUNA = FastChatPrompt(
    body=dataclasses.replace(RANK_ZEPHYR, system=VICUNA_V1_1.system, example="[4] > [2]"), conversation=VICUNA_V1_1
)

# RankMistral100 (liuwenhan/RankMistral100; Liu et al., "Sliding Windows Are Not the End", ACL 2025):
# RUC-NLPIR/fullrank's create_prompt (rerank/rank_listwise_os_llm.py; utils.py add_prefix_prompt /
# add_post_prompt with prompt_mode rank_GPT and variable passages, so the "[2] > [1]" example), run_rank_llm.py's
# system message, FastChat's mistral conversation, fix_text over the prompt.
RANK_MISTRAL_100 = FastChatPrompt(body=RANK_ZEPHYR, conversation=MISTRAL_INST, fullrank=True)

# rank_llm 0.26's RankVicuna (VicunaReranker): the rank_zephyr_template.yaml words through the vicuna chat
# template its vllm_handler.py sets on the tokenizer (system + " ", "USER: " + turn + " ", "ASSISTANT:").
RANK_VICUNA_V026 = dataclasses.replace(RANK_ZEPHYR_V026, conversation=VICUNA_V1_1)

# `rank_zephyr` is the prompt RankZephyr and FIRST were trained on: rank_llm before its YAML templates
# (rank_listwise_os_llm.py `_add_prefix_prompt` / `_add_post_prompt`: "a alphabetical identifier", a blank
# line before the first passage, "Only respond with ..."). `rank_zephyr_v026` and `rank_gpt` are what rank_llm
# 0.26 builds, byte for byte (tests/test_rank_llm_prompts.py).
# What the `prompt` option of the listwise methods takes.
# InsertRank (Seetharaman et al., 2025) puts each passage's BM25 score beside its text in the listwise prompt;
# the paper gives no fixed wording, so the score follows the passage on its own line, with two decimals.
SCORE_TEMPLATE = "{passage}\nBM25 score: {score:.2f}"


@dataclass(frozen=True)
class DeARPrompt:
    """DeAR's listwise prompt (DataScienceUIBK/DeAR-Reranking `listwise_rerank/prompts.py` `build_messages`):
    RankGPT's multi-turn shape with its own words, through the model's chat template; a passage loses a
    leading "Title: Content: ", is stripped and keeps its first `max_words` words joined by single spaces
    (bracketed numbers in it are left as they are, as is the query)."""

    template: RankLLMTemplate

    def prepare_passage(self, text: str, max_words: int) -> str:
        return first_words(text, max_words)

    def messages(self, query: str, labels: list[str], passages: list[str]) -> list[dict[str, str]]:
        return self.template.messages(query, labels, passages)

    def chat_text(self, chat_prefix: ChatRenderer, messages: list[dict[str, str]]) -> str:
        return chat_prefix(messages)


DEAR_LISTWISE = DeARPrompt(
    RankLLMTemplate(
        system="You are RankLLM, an assistant that ranks passages by relevance to the query.",
        prefix="I will provide you with {count} passages, each indicated by number identifier [].\n"
        "Rank the passages based on their relevance to query: {query}.",
        prefix_reply="Okay, please provide the passages.",
        passage="[{label}] {passage}",
        passage_reply="Received passage [{label}].",
        suffix="Search Query: {query}.\nRank the {count} passages above based on their relevance to the search "
        "query. The passages should be listed in descending order using identifiers.\nPlease follow the steps "
        "below:\nStep 1. List the information requirements to answer the query.\nStep 2. For each requirement, "
        "find the passages containing that information.\nStep 3. Rank passages that best cover clear and "
        "diverse information. Include all passages.\nOutput format strictly: [2] > [1] > [3] ... Only output "
        "the ranking using identifiers; no explanations.",
    )
)

AnyListwisePrompt = Union[ListPrompt, RankLLMPrompt, FastChatPrompt, DeARPrompt]


_BRACKETED = re.compile(r"\[([A-Za-z]{1,2}|\d{1,3})\]")  # an identifier as a response names it


def mentioned_positions(response: str, labels: list[str]) -> list[int]:
    """Positions of the known identifiers a response names, in its order, each once."""
    index = {label: i for i, label in enumerate(labels)}
    found = [m.group(1) for m in _BRACKETED.finditer(response)]
    if not found:  # some models drop the brackets: "C > A > B"
        found = re.findall(r"[A-Za-z0-9]+", response)
    order: list[int] = []
    for token in found:
        position = index.get(token, index.get(token.upper()))
        if position is not None and position not in order:
            order.append(position)
    return order


def parse_numbers(response: str, labels: list[str]) -> list[int]:
    """DeAR's reading (`extract_after_think`, `parse_ranking_to_indices`): what follows the first </think>
    (the whole response without one), every number in it taken as a 1-based position, unknown ones and repeats
    dropped, positions never named appended in order. For numeric identifiers only."""
    after = re.search(r"</think>\s*(.*)", response, flags=re.DOTALL | re.IGNORECASE)
    text = after.group(1).strip() if after else response.strip()
    order: list[int] = []
    for number in re.findall(r"\d+", text):
        position = int(number) - 1
        if 0 <= position < len(labels) and position not in order:
            order.append(position)
    return order + [i for i in range(len(labels)) if i not in order]


def parse_ranking_until_repeat(response: str, labels: list[str]) -> list[int]:
    """Rank-K's reading of "[3] > [2] = [1]" (hltcoe/rank-k rerank.py `parse_ranking_more`): identifiers in
    order, ties kept in the order written, reading stops at the first repeated one, and the rest follow in
    their input order."""
    index, order = {label: i for i, label in enumerate(labels)}, []
    for token in (m.group(1) for m in _BRACKETED.finditer(response)):
        position = index.get(token)
        if position is None:
            continue
        if position in order:
            break
        order.append(position)
    return order + [i for i in range(len(labels)) if i not in order]


def parse_permutation(response: str, labels: list[str]) -> list[int]:
    """Positions in ranked order from a response like "[C] > [A] > [B]": unknown identifiers are
    ignored, repeats dropped, and identifiers never mentioned appended in their input order."""
    order = mentioned_positions(response, labels)
    named = set(order)
    return order + [i for i in range(len(labels)) if i not in named]


# PE-Rank (liuqi6777/pe_rank src/ranker.py): `_add_prefix_prompt`, one `_get_input_for_one_passage` per
# passage, `_add_post_prompt`, in one user turn. Each passage is shown as its embedding token in [] (the
# embedding ranker, the authors' default) or followed by its text (the text-embedding ranker, which rewrites
# "[12]" in the text as "(12)"). The passage slot stays literal: the backend swaps each for its embedding.
_PE_RANK_USER = (
    "I will provide you with {count} passages, each with a special token representing the passage enclosed in "
    "[], followed by original text.\nRank the passages based on their relevance to the search query: "
    "{query}.\n{passages}Search Query: {query}.\nRank the {count} relatively ordered passages above based on "
    "their relevance to the search query, output the ranking in descending order. Only output the {count} "
    "unique special token in the ranking.\n\n"
)
PE_RANK = ListPrompt(
    system=None,
    user=_PE_RANK_USER,
    passage="Passage {label}: [<PLACEHOLDER>]\n\n",
    separator="",
    escape_identifiers=False,
)
PE_RANK_TEXT = dataclasses.replace(PE_RANK, passage="Passage {label}: [<PLACEHOLDER>] {passage}\n\n")
