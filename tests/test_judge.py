"""Issue 39: the LLM relevance judge (UMBRELA's prompt byte for byte, its answer parsing, the grade read from
the answer and its distribution from the log-probs at the answer's grade token), judgments on disk as they
are made and never made twice, pooling, and agreement between qrels."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tiny_models
from rankwise.errors import InputError
from rankwise.pipelines.judge.agreement import agreement, plot
from rankwise.pipelines.judge.llm_judge import LLMJudge, Pair, judge_into, open_judge
from rankwise.pipelines.judge.pool import pooled_pairs
from rankwise.pipelines.judge.store import JudgmentStore
from rankwise.rerankers.prompts.judge import UMBRELA
from rankwise.types import Candidate, Request

QUERY = "how long do fleas live"
PASSAGES = ["Adult fleas live for two to three months on a host.", "Sourdough starters need daily feeding."]
RESPONSES = [
    '{"M": 2, "T": 1, "O": 2}',
    '{"overall_score": 3}',
    '```json\n{"final score": 1}\n```',
    '{"o": 0}',
    "I cannot decide.",
    '{"score": 7}',
    '{"Score": 3, "O": 1}',
]


def umbrela_module():
    return pytest.importorskip(
        "umbrela.utils.common_utils", reason="umbrela 0.0.7 (make setup installs it with --no-deps)"
    )


def test_umbrela_prompt_is_umbrelas_byte_for_byte():
    """umbrela 0.0.7: LLMJudge reads prompts/qrel_fewshot_bing.txt ("".join(lines).strip()), generate_prompts
    formats it (zero-shot: examples ""), and GPTJudge.run_gpt sends it after a "You are a helpful assistant."
    system turn."""
    import importlib.metadata
    import importlib.resources

    common = umbrela_module()
    assert importlib.metadata.version("umbrela") == "0.0.7"
    with importlib.resources.files("umbrela").joinpath("prompts/qrel_fewshot_bing.txt").open() as f:
        template = "".join(f.readlines()).strip()
    (reference,) = common.generate_prompts([(QUERY, PASSAGES[0])], "", template)
    assert UMBRELA.messages(QUERY, PASSAGES[0]) == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": reference},
    ]


@pytest.mark.parametrize("response", RESPONSES)
def test_umbrela_answers_are_read_as_umbrela_reads_them(response, capsys):
    common = umbrela_module()
    grade, valid = common.parse_fewshot_response(response, PASSAGES[0], QUERY)
    parsed, offset = UMBRELA.parse(response)
    assert (parsed, offset is not None) == (grade, bool(valid))
    if offset is not None:
        assert response[offset] == str(parsed)  # the offset points at the digit the grade was read from


ANSWER = '{"O": 2}'


@pytest.fixture(scope="module")
def chain_judge(tmp_path_factory, qwen_tokenizer):
    """A tiny Qwen whose greedy answer to every UMBRELA prompt is {"O": 2}, with the grade tokens' logits
    at the digit chosen (2 likeliest, then 3, 1, 0)."""
    from rankwise import Reranker  # noqa: F401  (the registry must be importable)

    pieces = qwen_tokenizer.encode(ANSWER)
    if len(set(pieces)) != len(pieces):
        pytest.skip("the answer's tokens repeat in this vocabulary")
    prompt = qwen_tokenizer.apply_chat_template(
        UMBRELA.messages(QUERY, PASSAGES[0]), tokenize=False, add_generation_prompt=True
    )
    chain = {qwen_tokenizer.encode(prompt)[-1]: {pieces[0]: 9.0}}
    for current, following in zip(pieces, pieces[1:]):
        chain[current] = {following: 9.0}
    digit = pieces.index(qwen_tokenizer.encode("2")[0])
    chain[pieces[digit - 1]] = {
        qwen_tokenizer.encode(g)[0]: logit for g, logit in [("2", 9.0), ("3", 8.0), ("1", 6.0), ("0", 5.0)]
    }
    chain[pieces[-1]] = {qwen_tokenizer.eos_token_id: 9.0}
    folder = tiny_models.next_token_chain_lm(tmp_path_factory.mktemp("judge") / "lm", qwen_tokenizer, chain)
    return folder, pieces, digit


def test_the_grade_and_its_distribution_are_read_at_the_answers_grade_token(chain_judge, qwen_tokenizer):
    import torch
    from transformers import AutoModelForCausalLM

    folder, pieces, digit = chain_judge
    judge = open_judge(str(folder), {}, "umbrela")
    (judgment,) = judge.judge([Pair("q1", QUERY, "d1", PASSAGES[0])])
    assert judgment.answer == ANSWER and judgment.parsed == 2 and judgment.valid
    # the reference: the model's own next-token distribution after the prompt and the answer up to the digit
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    prompt = qwen_tokenizer.apply_chat_template(
        UMBRELA.messages(QUERY, PASSAGES[0]), tokenize=False, add_generation_prompt=True
    )
    ids = qwen_tokenizer.encode(prompt) + pieces[:digit]
    with torch.no_grad():
        log_probs = model(torch.tensor([ids])).logits[0, -1].log_softmax(-1).numpy()
    mass = {}
    for grade in "0123":
        tokens = judge.grade_tokens[grade]
        mass[grade] = float(np.exp(np.logaddexp.reduce(log_probs[tokens])))
    total = sum(mass.values())
    assert judgment.distribution == pytest.approx({g: m / total for g, m in mass.items()}, abs=1e-5)
    assert judgment.grade == 2 and judgment.expected == pytest.approx(
        sum(int(g) * m / total for g, m in mass.items()), abs=1e-5
    )
    assert 2.0 < judgment.expected < 3.0  # 3 is the runner-up: the expected grade says so, the argmax does not


def test_judgments_are_on_disk_at_once_and_never_made_twice(chain_judge, tmp_path):
    folder, _, _ = chain_judge
    judge = open_judge(str(folder), {}, "umbrela")
    pairs = [Pair("q1", QUERY, f"d{i}", PASSAGES[i % 2]) for i in range(5)]
    calls = []
    real = judge.judge

    def failing_after_one_batch(batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed mid-run
        return real(batch)

    judge.judge = failing_after_one_batch
    with pytest.raises(KeyboardInterrupt):
        judge_into(judge, pairs, JudgmentStore(tmp_path), batch_size=2)
    assert len((tmp_path / "judgments.jsonl").read_text().splitlines()) == 2  # the first batch survived
    with open(tmp_path / "judgments.jsonl", "a") as f:
        f.write('{"qid": "q1", "docid": "d2", "gr')  # a line cut by the kill
    judge.judge = real
    store = JudgmentStore(tmp_path)
    assert judge_into(judge, pairs, store, batch_size=2) == 3  # only the three not yet judged
    lines = [json.loads(line) for line in (tmp_path / "judgments.jsonl").read_text().splitlines() if line.endswith("}")]
    assert sorted(r["docid"] for r in lines) == ["d0", "d1", "d2", "d3", "d4"]
    assert (tmp_path / "qrels.txt").read_text().splitlines() == [f"q1 0 d{i} 2" for i in range(5)]
    assert judge_into(judge, pairs, JudgmentStore(tmp_path), batch_size=2) == 0


def test_a_corrupt_judgments_file_is_named_not_overwritten(tmp_path):
    (tmp_path / "judgments.jsonl").write_text('{"qid": "q1", "docid": "d1", "grade": 2}\nnot json\n{"qid": "q"}\n')
    with pytest.raises(InputError, match="judgments.jsonl:2: not a judgment"):
        JudgmentStore(tmp_path)


def test_the_pool_is_the_union_of_the_runs_top_k_minus_what_is_judged(tmp_path):
    requests = [
        Request.build("q one", [Candidate(d, f"text {d}") for d in "abcde"], qid="1"),
        Request.build("q two", [Candidate(d, f"text {d}") for d in "vwxyz"], qid="2"),
    ]
    (tmp_path / "a.run").write_text("1 Q0 a 1 3 r\n1 Q0 b 2 2 r\n1 Q0 c 3 1 r\n2 Q0 v 1 3 r\n2 Q0 w 2 2 r\n")
    (tmp_path / "b.run").write_text("1 Q0 e 1 9 s\n1 Q0 a 2 8 s\n1 Q0 q 3 7 s\n2 Q0 z 1 3 s\n")
    pairs, counts = pooled_pairs(requests, [tmp_path / "a.run", tmp_path / "b.run"], depth=2, skip={("2", "z")})
    assert sorted((p.qid, p.docid) for p in pairs) == [("1", "a"), ("1", "b"), ("1", "e"), ("2", "v"), ("2", "w")]
    assert counts == {"already_judged": 1, "pooled_not_in_input": 0}
    pairs, counts = pooled_pairs(requests, [tmp_path / "b.run"], depth=3)
    assert counts["pooled_not_in_input"] == 1  # q: ranked by b but absent from the input, so it has no text
    all_pairs, _ = pooled_pairs(requests)
    assert len(all_pairs) == 10


def test_agreement_kappa_confusion_and_system_orderings(tmp_path):
    a = [("1", "d1", 0), ("1", "d2", 1), ("1", "d3", 2), ("1", "d4", 3), ("2", "d1", 2), ("2", "d2", 0)]
    b = [("1", "d1", 0), ("1", "d2", 1), ("1", "d3", 2), ("1", "d4", 2), ("2", "d1", 3), ("2", "d2", 1), ("2", "d9", 3)]
    for name, rows in (("a.qrels", a), ("b.qrels", b)):
        (tmp_path / name).write_text("".join(f"{q} 0 {d} {g}\n" for q, d, g in rows))
    # three systems: under both qrels the same order (good > mid > bad)
    runs = {"good": ["d4", "d3", "d1"], "mid": ["d3", "d2", "d4"], "bad": ["d1", "d2", "d3"]}
    for name, docs in runs.items():
        (tmp_path / f"{name}.run").write_text(
            "".join(f"{q} Q0 {d} {r + 1} {9 - r} {name}\n" for q in ("1", "2") for r, d in enumerate(docs))
        )
    result = agreement(tmp_path / "a.qrels", tmp_path / "b.qrels", [tmp_path / f"{n}.run" for n in runs])
    # by hand: 3 of 6 agree; chance agreement from the marginals A (2,1,2,1)/6 and B (1,2,2,1)/6
    observed, chance = 3 / 6, (2 * 1 + 1 * 2 + 2 * 2 + 1 * 1) / 36
    assert result.kappa == pytest.approx((observed - chance) / (1 - chance))
    assert result.confusion == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 0]]
    assert (result.pairs, result.only_a, result.only_b) == (6, 0, 1)
    assert result.kappa_binary == pytest.approx(1.0)  # relevant at 2: both 0,0,1,1,1,0
    assert result.tau == pytest.approx(1.0)
    assert list(result.systems) == ["good.run", "mid.run", "bad.run"]
    png = plot(result, tmp_path / "agree.png")
    assert png.stat().st_size > 5000


def test_judge_agree_on_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from rankwise.cli import app

    (tmp_path / "a.qrels").write_text("1 0 d1 0\n1 0 d2 3\n1 0 d3 2\n")
    (tmp_path / "b.qrels").write_text("1 0 d1 0\n1 0 d2 2\n1 0 d3 2\n")
    result = CliRunner().invoke(
        app, ["judge", "agree", str(tmp_path / "a.qrels"), str(tmp_path / "b.qrels"), "--plot", str(tmp_path / "a.png")]
    )
    assert result.exit_code == 0, result.output
    assert "3 pairs judged in both" in result.output and "1.0000 binary" in result.output
    assert (tmp_path / "a.png").exists()
    missing = CliRunner().invoke(app, ["judge", "--input", "x.json"])
    assert missing.exit_code == 2 and "rankwise judge needs --model, --input and --out" in missing.output


def test_an_unknown_preset_is_refused_with_the_choices(chain_judge):
    folder, _, _ = chain_judge
    from rankwise.errors import OptionError

    with pytest.raises(OptionError, match="unknown judge preset 'trec'; choose umbrela, graded, yes-no"):
        open_judge(str(folder), {}, "trec")
    assert isinstance(open_judge(str(folder), {}, "yes-no"), LLMJudge)


@pytest.fixture(scope="module")
def qwen_tokenizer():
    return tiny_models.qwen_tokenizer()


def test_plot_labels_tell_two_qrels_files_of_one_name_apart(tmp_path):
    from rankwise.cli.judge import qrels_labels

    assert qrels_labels(tmp_path / "llm" / "qrels.txt", tmp_path / "dl19" / "qrels.txt") == (
        "A: llm/qrels.txt",
        "B: dl19/qrels.txt",
    )
    assert qrels_labels(tmp_path / "a.qrels", tmp_path / "b.qrels") == ("A: a.qrels", "B: b.qrels")
