"""Reasoning rerankers: the thinking budget, where the answer is read, and the checkpoints' own prompts, on a
scripted language model (real SmolLM2 tokenizer, fixed generations) and end to end on SmolLM2."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FLEA_PASSAGES, FLEA_QUERY
from rankwise import Reranker
from rankwise.backends.interface import Capability
from rankwise.rerankers.pointwise.reasoning import ReasoningPointwiseReranker
from rankwise.rerankers.prompts.pointwise import RANK1
from rankwise.rerankers.shared.thinking import last_full_sentence


@pytest.fixture(scope="module")
def smollm_text():
    from rankwise.backends.chat_tokenizer import ChatTokenizer
    from rankwise.models import resolve_model

    return ChatTokenizer.load(resolve_model("smollm2-135m").path, "smollm2-135m")


class ScriptedLM:
    """A language model whose generations are fixed texts (cut at the budget like a real one) and whose answer
    distribution says P(true) = 0.8 everywhere; it records what it was asked."""

    backend_name = "scripted"
    max_length = 8192
    capabilities = frozenset({Capability.TOKENIZE, Capability.NEXT_TOKEN_LOGPROBS, Capability.GENERATE})

    def __init__(self, text, generations):
        self.text, self.generations = text, generations
        self.generate_calls, self.scored = [], []

    def encode(self, text):
        return self.text.encode(text)

    def chat_prefix(self, messages, add_generation_prompt=True):
        return self.text.chat_prefix(messages, add_generation_prompt)

    def generate(self, sequences, max_new_tokens, stop_ids=()):
        """`generations` is a list of texts, the same for every call, or of lists, one per call."""
        script = self.generations
        if script and isinstance(script[0], list):
            script = script[len(self.generate_calls)]
        self.generate_calls.append((len(sequences), max_new_tokens, tuple(stop_ids)))
        self.generated_for = [list(s) for s in sequences]
        return [self.encode(script[i % len(script)])[:max_new_tokens] for i in range(len(sequences))]

    def next_token_logprobs(self, sequences, token_ids):
        """[0.4, 0.1] for two answer tokens; for grades 0..k, P(g) proportional to g + 1."""
        self.scored.extend(list(s) for s in sequences)
        if len(token_ids) == 2:
            return np.log(np.tile([0.4, 0.1], (len(sequences), 1)))
        weights = np.arange(1, len(token_ids) + 1, dtype=float) / 100
        return np.log(np.tile(weights, (len(sequences), 1)))


def rank1_reference_prompt(query, doc_content, prompt=None):
    """ORACLE: orionw/rank1, rank1.py `Rank1.return_prompt`, as written there."""
    query = prompt.replace("FILL_QUERY_HERE", query) if prompt else query
    return (
        "Determine if the following passage is relevant to the query. "
        "Answer only with 'true' or 'false'.\n"
        f"Query: {query}\n"
        f"Passage: {doc_content}\n"
        "<think>"
    )  # force the model to start with this


def test_rank1_prompt_bytes_equal_its_authors_code():
    assert RANK1.prompt_text(None, FLEA_QUERY, FLEA_PASSAGES[1]) == rank1_reference_prompt(FLEA_QUERY, FLEA_PASSAGES[1])


def test_the_answer_is_read_right_after_the_think_block_the_model_closed(smollm_text):
    lm = ScriptedLM(smollm_text, ["Fleas live months. [B] > [A]</think> true and more text after", "No.</think>"])
    reranker = ReasoningPointwiseReranker.build(lm, "scripted", prompt=RANK1, reasoning_budget=64)
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES[:2])
    prompt = rank1_reference_prompt(FLEA_QUERY, FLEA_PASSAGES[0])
    first = next(r for r in ranking.trace["reasoning"] if r["docid"] == "0")
    assert first["ended"] == "model" and first["reasoning"] == "Fleas live months. [B] > [A]"
    # The scored sequence is the prompt, then the generated tokens up to the one that completes "</think>".
    assert smollm_text.decode(lm.scored[0]) == prompt + "Fleas live months. [B] > [A]</think>"
    assert [r.score for r in ranking] == pytest.approx([0.8, 0.8])  # 0.4 / (0.4 + 0.1)
    assert ranking.score_kind.value == "probability" and ranking.trace["budget_hits"] == 0


def test_the_budget_is_enforced_exactly_and_the_block_closed_as_rank1_closes_it(smollm_text):
    long = "The passage talks about fleas. It says adult fleas live for months and that is " + "very " * 60
    lm = ScriptedLM(smollm_text, [long])
    reranker = ReasoningPointwiseReranker.build(lm, "scripted", prompt=RANK1, reasoning_budget=12)
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES[:1])
    assert lm.generate_calls == [(1, 12, ())]  # "</think>" is several SmolLM2 tokens: no token stop
    entry = ranking.trace["reasoning"][0]
    assert entry["ended"] == "budget" and entry["reasoning_tokens"] == 12 and ranking.trace["budget_hits"] == 1
    cut = smollm_text.decode(smollm_text.encode(long)[:12])
    assert entry["reasoning"] == last_full_sentence(cut) == "The passage talks about fleas."
    assert smollm_text.decode(lm.scored[0]) == (
        rank1_reference_prompt(FLEA_QUERY, FLEA_PASSAGES[0]) + "\nThe passage talks about fleas.\n</think>"
    )


def test_budget_zero_thinks_not_at_all():
    reranker = Reranker.load("smollm2-135m", preset="rank1", reasoning_budget=0, batch_size=4)
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES)
    assert all(r["reasoning_tokens"] == 0 and r["reasoning"] == "" for r in ranking.trace["reasoning"])
    assert reranker.lm.stats["generate_calls"] == 0


@pytest.mark.parametrize("budget", [0, pytest.param(32, marks=pytest.mark.slow)])
def test_real_smollm2_ranks_every_passage_deterministically(budget):
    reranker = Reranker.load("smollm2-135m", preset="rank1", reasoning_budget=budget, batch_size=4)
    first = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES)
    second = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES)
    assert sorted(first.docids) == [str(i) for i in range(len(FLEA_PASSAGES))]
    assert [r.score for r in first] == [r.score for r in second] and first.docids == second.docids
    assert all(0.0 <= r.score <= 1.0 for r in first)
    assert all(r["reasoning_tokens"] <= budget for r in first.trace["reasoning"])


def test_listwise_reasoning_parses_the_answer_only_never_a_ranking_inside_the_reasoning(smollm_text):
    from rankwise.rerankers.listwise.reasoning import ReasoningListwiseReranker
    from rankwise.rerankers.prompts.listwise import REASONRANK

    thinking = ["Maybe [1] > [2] > [3], since [1] mentions fleas.</think>", "I think " + "fleas " * 40]
    answers = [" <answer> [3] > [1] > [2] </answer>", "[2] > [3] > [1]</answer>"]
    lm = ScriptedLM(smollm_text, [thinking, answers])
    reranker = ReasoningListwiseReranker.build(
        lm, "scripted", window=3, stride=3, alphabet="numeric", prompt=REASONRANK, reasoning_budget=32
    )
    first, second = reranker.rerank_batch(
        [
            __import__("rankwise").Request.build(FLEA_QUERY, FLEA_PASSAGES[:3], qid="a"),
            __import__("rankwise").Request.build(FLEA_QUERY, FLEA_PASSAGES[1:4], qid="b"),
        ]
    )
    assert first.docids == ["2", "0", "1"]  # the answer's [3] > [1] > [2], not the reasoning's [1] > [2] > [3]
    assert second.docids == ["1", "2", "0"]
    windows = first.trace["windows"][0], second.trace["windows"][0]
    assert windows[0]["ended"] == "model" and windows[1]["ended"] == "budget"
    assert windows[1]["reasoning_tokens"] == 32
    assert lm.generate_calls[0] == (2, 32, ())  # both windows think in one batched call, within the budget
    # The window the budget cut was closed by the method: "</think>" then "<answer>", then the ranking follows.
    assert smollm_text.decode(lm.generated_for[1]).endswith("\n</think>\n<answer>")


def rank_k_reference_content(query, candidates):
    """ORACLE: hltcoe/rank-k, rerank.py `rank_k_prompt` and utils.py `combine_passages`, as written there."""
    rank_k_prompt = """
Determine a ranking of the passages based on how relevant they are to the query. 
If the query is a question, how relevant a passage is depends on how well it answers the question. 
If not, try analyze the intent of the query and assess how well each passage satisfy the intent. 
The query may have typos and passages may contain contradicting information. 
However, we do not get into fact-checking. We just rank the passages based on they relevancy to the query. 

Sort them from the most relevant to the least. 
Answer with the passage number using a format of `[3] > [2] > [4] = [1] > [5]`. 
Ties are acceptable if they are equally relevant. 
I need you to be accurate but overthinking it is unnecessary.
Output only the ordering without any other text.

Query: {query}

{docs}
"""  # noqa: W291 (the authors' trailing spaces are part of the prompt)

    def combine_passages(passages):
        return "\n\n".join(f"[{i + 1}] {text}" for i, text in enumerate(passages))

    return rank_k_prompt.format(query=query, docs=combine_passages(candidates))


def test_rank_k_preset_sends_its_authors_prompt_and_reads_the_last_line_until_a_repeat(smollm_text):
    """Rank-K's one user message, byte for byte, through the chat template; the ranking is the answer's last
    line, ties kept as written, reading stopped at the first repeat ([1] again), the rest in input order."""
    from rankwise.rerankers.listwise.reasoning import ReasoningListwiseReranker
    from rankwise.rerankers.presets import PRESETS

    passages = FLEA_PASSAGES[:4]
    thinking = ["Passage [1] > [4] at first sight.</think>"]
    answers = ["\n\n[4]\n[3] = [1] > [3] > [4] > [2]"]  # an earlier line is not read
    lm = ScriptedLM(smollm_text, [thinking, answers])
    options = {k: v for k, v in PRESETS["rank-k"].options.items() if k != "reasoning_budget"}
    reranker = ReasoningListwiseReranker.build(
        lm, "scripted", **{**options, "window": 4, "stride": 4}, reasoning_budget=64
    )
    ranking = reranker.rerank(FLEA_QUERY, passages)
    assert ranking.docids == ["2", "0", "1", "3"]  # [3] = [1], then [3] repeats: [2] and [4] in input order
    expected = smollm_text.chat_prefix([{"role": "user", "content": rank_k_reference_content(FLEA_QUERY, passages)}])
    assert smollm_text.decode(lm.generated_for[0]).startswith(expected)
    assert ranking.trace["windows"][0]["answer"] == "[3] = [1] > [3] > [4] > [2]"


@pytest.mark.parametrize("budget", [0, pytest.param(32, marks=pytest.mark.slow)])
def test_real_smollm2_reasoning_listwise_gives_a_full_permutation(budget):
    reranker = Reranker.load(
        "smollm2-135m", preset="reasonrank", reasoning_budget=budget, window=4, stride=2, batch_size=4
    )
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES + ["Bread needs flour."])
    again = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES + ["Bread needs flour."])
    assert sorted(ranking.docids) == [str(i) for i in range(5)] and ranking.docids == again.docids
    assert all(w["reasoning_tokens"] <= budget for w in ranking.trace["windows"])


def rank_r1_reference_messages(query, passages):
    """ORACLE: ielab/llm-rankers, Rank-R1/prompts/prompt_setwise-R1.toml (prompt_system, prompt_user) and
    llmrankers/setwise.py RankR1SetwiseLlmRanker.compare (labels "[i+1]", "\\n".join of "{label} {text}")."""
    prompt_system = (
        "A conversation between User and Assistant. The user asks a question, and the Assistant solves "
        "it. The assistant first thinks about the reasoning process in the mind and then provides the "
        "user with the answer. The reasoning process and answer are enclosed within <think> </think> "
        "and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> "
        "<answer> answer here </answer>."
    )
    prompt_user = """Given the query: "{query}", which of the following documents is most relevant?
{docs}
After completing the reasoning process, please provide only the label of the most relevant document to the query, enclosed in square brackets, within the answer tags. For example, if the third document is the most relevant, the answer should be: <think> reasoning process here </think> <answer>[3]</answer>."""
    characters = [f"[{i + 1}]" for i in range(20)]
    docs = "\n".join([f"{characters[i]} {passages[i]}" for i in range(len(passages))])
    return [
        {"role": "system", "content": prompt_system},
        {"role": "user", "content": prompt_user.format(query=query, docs=docs)},
    ]


def test_rank_r1_prompt_equals_its_authors_code():
    from rankwise.rerankers.prompts.pointwise import RANK_R1

    labels = [str(i + 1) for i in range(len(FLEA_PASSAGES))]
    assert RANK_R1.messages(FLEA_QUERY, labels, FLEA_PASSAGES) == rank_r1_reference_messages(FLEA_QUERY, FLEA_PASSAGES)


def test_setwise_reasoning_takes_the_answers_label_and_keeps_the_parent_when_there_is_none(smollm_text):
    from rankwise.rerankers.pairwise.reasoning_setwise import ReasoningSetwiseReranker

    # Comparisons of 2: the first answer names [2] after reasoning that names [1]; the second names nothing.
    lm = ScriptedLM(
        smollm_text, [["[1] looks good but</think>"], [" <answer>[2]</answer>"], ["hmm"], ["<answer>none</answer>"]]
    )
    reranker = ReasoningSetwiseReranker.build(lm, "scripted", set_size=2, top_n=1, reasoning_budget=16)
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES[:2])
    assert ranking.docids[0] == "1"  # the answer's [2], not the reasoning's [1]
    assert ranking.trace["llm_calls"] == 1 and ranking.trace["unparsed_answers"] == 0
    lm.generate_calls.clear()
    lm.generations = [["hmm"], ["<answer>none</answer>"]]
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES[:2])
    assert ranking.docids[0] == "0" and ranking.trace["unparsed_answers"] == 1


class LabelScoringLM(ScriptedLM):
    """... that also scores continuations: each label's identifier gets the log-probability in `label_probs`,
    spread over its tokens (the sum is what a choice compares)."""

    capabilities = ScriptedLM.capabilities | {Capability.CONTINUATION_LOGPROBS}

    def __init__(self, text, generations, label_probs):
        super().__init__(text, generations)
        self.label_probs, self.continued = label_probs, []

    def continuation_logprobs(self, prefixes, continuations):
        self.continued.append((list(prefixes[0]), [self.text.decode(c) for c in continuations]))
        return [
            np.full(len(c), np.log(self.label_probs.get(self.text.decode(c), 1e-6)) / len(c)) for c in continuations
        ]


def test_setwise_reasoning_reads_the_likeliest_whole_identifier_after_the_answer_tag(smollm_text):
    """Twelve passages in one comparison: "1" is the likeliest first token (it starts [1] and [10]..[12]), but
    the likeliest identifier is [12], and greedy text would have said [1]; the log-prob choice takes [12]."""
    from rankwise.rerankers.pairwise.reasoning_setwise import ReasoningSetwiseReranker

    passages = [f"passage number {i}" for i in range(12)]
    probs = {"1]": 0.2, "10]": 0.1, "11]": 0.1, "12]": 0.3, "3]": 0.25}
    lm = LabelScoringLM(smollm_text, [["they all look fine</think>"], ["<answer>[1]</answer>"]], probs)
    reranker = ReasoningSetwiseReranker.build(lm, "scripted", set_size=12, top_n=1, reasoning_budget=16)
    ranking = reranker.rerank(FLEA_QUERY, passages)
    assert ranking.docids[0] == "11" and reranker.describe()["choice"] == "log-probs"
    prefix, continued = lm.continued[0]
    assert continued == [f"{i}]" for i in range(1, 13)]
    # the model closed its block: the answer tag is written after it, then the identifier's bracket
    assert smollm_text.decode(prefix).endswith("they all look fine</think>\n<answer>[")
    comparison = ranking.trace["comparisons"][0]
    assert comparison["read"] == "log-probs" and comparison["answer"] == "[12]"
    assert comparison["choice_probability"] == pytest.approx(0.3 / sum(probs.values()), rel=1e-3)
    # every generation is a comparison's reasoning (the budget, 16 tokens): no answer is generated
    assert [call[1] for call in lm.generate_calls] == [16] * ranking.trace["llm_calls"]

    # the budget ran out: the forced closing already opened the answer
    lm = LabelScoringLM(smollm_text, ["word " * 40], probs)
    ReasoningSetwiseReranker.build(lm, "scripted", set_size=12, top_n=1, reasoning_budget=8).rerank(
        FLEA_QUERY, passages
    )
    assert smollm_text.decode(lm.continued[0][0]).endswith("\n</think>\n<answer>[")

    answer_read = ReasoningSetwiseReranker.build(
        LabelScoringLM(smollm_text, [["fine</think>"], ["<answer>[1]</answer>"]] * 2, probs),
        "scripted",
        set_size=12,
        top_n=1,
        reasoning_budget=16,
        choice="answer",
    ).rerank(FLEA_QUERY, passages)
    assert answer_read.docids[0] == "0" and answer_read.trace["comparisons"][0]["read"] == "answer"
    from rankwise.errors import UnsupportedMethodError

    with pytest.raises(
        UnsupportedMethodError,
        match="choice='log-probs' scores each label's continuation, which backend 'scripted' does not offer",
    ):
        ReasoningSetwiseReranker.build(ScriptedLM(smollm_text, ["x"]), "scripted", choice="log-probs")


def test_continuations_of_one_prefix_share_its_cache_and_score_as_apart():
    """transformers: the labels of one prompt run the prompt once; each continuation's log-probs equal those of
    its own full forward pass."""
    from rankwise.backends.interface import Capability as C
    from rankwise.backends.registry import locate, open_backend, runtime_options

    lm = open_backend(
        locate("smollm2-135m", None),
        runtime_options(batch_size=4),
        frozenset({C.CONTINUATION_LOGPROBS, C.TOKENIZE}),
        "test",
    )
    prefix = lm.encode("Which passage is best? <answer>[")
    continuations = [lm.encode(f"{i}]") for i in range(1, 13)]
    shared = lm.continuation_logprobs([prefix] * len(continuations), continuations)
    apart = [lm.continuation_logprobs([prefix], [c])[0] for c in continuations]
    assert {len(c) for c in continuations} == {2, 3}
    for got, expected in zip(shared, apart):
        assert got == pytest.approx(expected, abs=1e-4)
    assert lm.stats["cached_continuation_passes"] == 3  # 12 continuations in batches of 4, after one prefix pass


@pytest.mark.slow  # 9 s
@pytest.mark.parametrize("budget", [0, pytest.param(32, marks=pytest.mark.slow)])
def test_real_smollm2_reasoning_setwise_sorts_the_head(budget):
    reranker = Reranker.load(
        "smollm2-135m", preset="rank-r1", set_size=3, top_n=2, reasoning_budget=budget, batch_size=4
    )
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES + ["Bread needs flour."])
    again = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES + ["Bread needs flour."])
    assert sorted(ranking.docids) == [str(i) for i in range(5)] and ranking.docids == again.docids
    assert ranking.trace["llm_calls"] >= 2
    assert {c["read"] for c in ranking.trace["comparisons"]} == {"log-probs"}


def test_graded_score_is_the_expected_grade_and_budget_zero_writes_an_empty_think_block(smollm_text):
    from rankwise.rerankers.pointwise.graded import GradedPointwiseReranker

    lm = ScriptedLM(smollm_text, ["unused"])
    reranker = GradedPointwiseReranker.build(lm, "scripted", max_grade=3, reasoning_budget=0)
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES[:2])
    assert [r.score for r in ranking] == pytest.approx([2.0, 2.0])  # (0*1 + 1*2 + 2*3 + 3*4) / (1+2+3+4)
    assert lm.generate_calls == []  # think-free: nothing generated
    assert smollm_text.decode(lm.scored[0]).endswith("<think>\n\n</think>\n\nScore: ")
    assert ranking.trace["reasoning"][0]["ended"] == "none" and ranking.trace["budget_hits"] == 0


def test_groupwise_parses_each_grade_and_falls_back_for_a_missing_one(smollm_text):
    from rankwise.rerankers.listwise.groupwise import GroupwiseReranker, parse_grades

    assert parse_grades("[1]: 7\n[2] = 12\n[3]: seven", 3, 9) == [7.0, 9.0, None]
    lm = ScriptedLM(smollm_text, [["[1]: 4\n[2]: 8\n[3]: none", "[1]: 5"]])
    reranker = GroupwiseReranker.build(lm, "scripted", group_size=3, max_grade=9)
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES)  # two groups: 3 passages, then 1
    assert ranking.docids == ["1", "3", "0", "2"]  # 8, 5, 4, then the missing grade (-1)
    assert [r.score for r in ranking] == [8.0, 5.0, 4.0, -1.0]
    assert ranking.trace["missing_grades"] == 1 and ranking.trace["llm_calls"] == 2
    assert lm.generate_calls[0][0] == 2  # both groups in one batched generation


# groupwise on SmolLM2 also runs by default in test_server_every_method (9 s here): -m slow.
@pytest.mark.parametrize("method", ["graded-pointwise", pytest.param("groupwise", marks=pytest.mark.slow)])
@pytest.mark.parametrize("budget", [0, pytest.param(32, marks=pytest.mark.slow)])
def test_real_smollm2_graded_methods_rank_every_passage(method, budget):
    reranker = Reranker.load("smollm2-135m", method=method, reasoning_budget=budget, batch_size=4)
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES)
    assert sorted(ranking.docids) == [str(i) for i in range(len(FLEA_PASSAGES))]
    assert ranking.docids == reranker.rerank(FLEA_QUERY, FLEA_PASSAGES).docids
