"""Bring-your-own-checkpoint families on tiny random-weight models built here (no hub on this machine),
each compared with its reference implementation on the same folder; loading by short name from a Hugging
Face cache layout with HF_HUB_OFFLINE=1 (the real hub loading code); refusals of what rankwise cannot
score."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import tiny_models
from conftest import EXAMPLES, ROOT
from rankwise import Reranker
from rankwise.errors import ModelNotAvailableError, OptionError

QUERY = "how long do fleas live"
PASSAGES = [
    "An adult flea lives two to three months.",
    "Sourdough needs feeding daily.",
    "Flea pupae can stay dormant for up to a year. " * 8,
    "The flea market sells records.",
]


@pytest.fixture(scope="module")
def qwen_tokenizer():
    return tiny_models.qwen_tokenizer()


@pytest.fixture(scope="module")
def tiny_qwen3(tmp_path_factory, qwen_tokenizer):
    """A seeded two-layer Qwen3ForCausalLM with the real Qwen vocabulary, as a Qwen3-Reranker folder."""
    return tiny_models.qwen3_causal_lm(tmp_path_factory.mktemp("qwen3-reranker") / "tiny", qwen_tokenizer)


def qwen3_reranker_model_card_scores(folder, instruction, pairs, max_length=8192):
    """ORACLE, from the Qwen/Qwen3-Reranker-0.6B model card ("Transformers Usage"), kept as written there
    except that each pair runs alone: the card left-pads a batch, and Qwen3 then numbers the padded rows'
    positions from the padding, so its batched scores depend on what else is in the batch."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    token_false_id = tokenizer.convert_tokens_to_ids("no")
    token_true_id = tokenizer.convert_tokens_to_ids("yes")
    prefix = (
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
        'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
    )
    suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    prefix_tokens = tokenizer.encode(prefix, add_special_tokens=False)
    suffix_tokens = tokenizer.encode(suffix, add_special_tokens=False)

    def format_instruction(instruction, query, doc):
        if instruction is None:
            instruction = "Given a web search query, retrieve relevant passages that answer the query"
        return f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}"

    scores = []
    for query, doc in pairs:
        inputs = tokenizer(
            [format_instruction(instruction, query, doc)],
            padding=False,
            truncation="longest_first",
            return_attention_mask=False,
            max_length=max_length - len(prefix_tokens) - len(suffix_tokens),
        )
        inputs["input_ids"][0] = prefix_tokens + inputs["input_ids"][0] + suffix_tokens
        inputs = tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)
        with torch.no_grad():
            batch_scores = model(**inputs).logits[:, -1, :]
        true_vector = batch_scores[:, token_true_id]
        false_vector = batch_scores[:, token_false_id]
        batch_scores = torch.nn.functional.log_softmax(torch.stack([false_vector, true_vector], dim=1), dim=1)
        scores.append(batch_scores[:, 1].exp().item())
    return scores


@pytest.mark.parametrize("instruction, max_prompt_tokens", [(None, None), ("Find the passage that answers", 96)])
def test_qwen3_reranker_preset_equals_the_model_card(tiny_qwen3, instruction, max_prompt_tokens):
    options = {"instruction": instruction} if instruction else {}
    if max_prompt_tokens:
        options["max_prompt_tokens"] = max_prompt_tokens  # the long passage is cut, the suffix is kept
    reranker = Reranker.load(str(tiny_qwen3), preset="qwen3-reranker", batch_size=3, **options)
    assert reranker.method == "llm-pointwise"
    ranking = reranker.rerank(QUERY, PASSAGES)
    reference = qwen3_reranker_model_card_scores(
        str(tiny_qwen3), instruction, [(QUERY, p) for p in PASSAGES], max_length=max_prompt_tokens or 8192
    )
    got = {r.docid: r.score for r in ranking}
    assert [got[str(i)] for i in range(len(PASSAGES))] == pytest.approx(reference, abs=1e-4)
    assert ranking.docids == [str(i) for i in sorted(range(len(PASSAGES)), key=lambda i: -reference[i])]
    assert ranking.score_kind.value == "probability"


def test_qwen3_reranker_prompt_ends_with_the_empty_think_block_even_when_cut(tiny_qwen3, qwen_tokenizer):
    reranker = Reranker.load(str(tiny_qwen3), preset="qwen3-reranker", max_prompt_tokens=80)
    from rankwise.types import Candidate, Query

    ids = reranker._sequence(Query("q", QUERY), Candidate("d", PASSAGES[2]))
    assert len(ids) == 80
    assert qwen_tokenizer.decode(ids).endswith("<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")
    strict = Reranker.load(str(tiny_qwen3), preset="qwen3-reranker", max_prompt_tokens=80, truncate=False)
    with pytest.raises(Exception, match="over the limit of 80"):
        strict.rerank(QUERY, [PASSAGES[2]])


def test_preset_errors_name_the_problem(tiny_qwen3):
    with pytest.raises(OptionError, match="unknown preset 'qwen9'; available: cross-encoder, .*qwen3-reranker, "):
        Reranker.load(str(tiny_qwen3), preset="qwen9")
    with pytest.raises(OptionError, match="preset 'qwen3-reranker' is for method 'llm-pointwise', not 'first'"):
        Reranker.load(str(tiny_qwen3), method="first", preset="qwen3-reranker")
    with pytest.raises(OptionError, match="option instruction needs a prompt with an {instruction} slot"):
        Reranker.load(str(tiny_qwen3), method="llm-pointwise", instruction="x")


def _run_offline(cache, code):
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_short_name_loads_from_the_hf_cache_offline_with_its_preset(tmp_path, tiny_qwen3):
    tiny_models.hf_cache_layout(tmp_path / "hub", "Qwen/Qwen3-Reranker-0.6B", tiny_qwen3)
    code = (
        "import json; from rankwise import Reranker; r = Reranker.load('qwen3-reranker-0.6b'); "
        f"ranking = r.rerank({QUERY!r}, {PASSAGES!r}); "
        "print(json.dumps([r.method, r.answer_tokens, ranking.score_kind.value, "
        "{x.docid: x.score for x in ranking}]))"
    )
    done = _run_offline(tmp_path / "hub", code)
    assert done.returncode == 0, done.stderr[-3000:]
    method, tokens, kind, scores = json.loads(done.stdout.strip().splitlines()[-1])
    assert (method, tokens, kind) == ("llm-pointwise", "yes,no", "probability")
    reference = qwen3_reranker_model_card_scores(str(tiny_qwen3), None, [(QUERY, p) for p in PASSAGES])
    assert [scores[str(i)] for i in range(len(PASSAGES))] == pytest.approx(reference, abs=1e-4)


# Every row loads the same way; three run by default (an encoder, a T5, a ColBERT), the rest in the opt-in run.
SLOW = pytest.mark.slow


def _qwen3_embedding_folder(folder):
    """A tiny sentence-transformers decoder folder shaped as Qwen3-Embedding's (last token, Normalize, its
    query instruction as the 'query' prompt)."""
    from test_pooling import tiny_sentence_transformer

    prompts = {"query": "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"}
    tiny_sentence_transformer(folder, "lasttoken", decoder=True, padding_side="left", prompts=prompts)
    return folder


def _e2rank_folder(folder):
    from test_e2rank import tiny_e2rank_folder

    return tiny_e2rank_folder(folder)


@pytest.mark.parametrize(
    "name, hf_id, build, preset",
    [
        pytest.param(
            "ms-marco-minilm-l6",
            "cross-encoder/ms-marco-MiniLM-L6-v2",
            lambda d: tiny_models.cross_encoder(d)[0],
            "cross-encoder",
            marks=SLOW,
        ),
        pytest.param("monot5-base", "castorini/monot5-base-msmarco", tiny_models.t5, "monot5", marks=SLOW),
        pytest.param("duot5-base", "castorini/duot5-base-msmarco", tiny_models.t5, "duot5", marks=SLOW),
        pytest.param(
            "rankt5-base", "Soyoung97/RankT5-base", lambda d: tiny_models.t5(d, extra_ids=11), "rankt5", marks=SLOW
        ),
        pytest.param(
            "lit5-distill-base",
            "castorini/LiT5-Distill-base",
            lambda d: tiny_models.reference_copy("lit5_tiny_t5", d),
            "lit5",
            marks=SLOW,
        ),
        pytest.param(
            "bge-reranker-v2-gemma",
            "BAAI/bge-reranker-v2-gemma",
            lambda d: tiny_models.gemma_causal_lm(d, tiny_models.qwen_tokenizer()),
            "bge-reranker-gemma",
            marks=SLOW,
        ),
        pytest.param(
            "mxbai-rerank-base-v2",
            "mixedbread-ai/mxbai-rerank-base-v2",
            lambda d: tiny_models.qwen2_causal_lm(d, tiny_models.qwen_tokenizer()),
            "mxbai-rerank-v2",
            marks=SLOW,
        ),
        pytest.param(
            "gte-modern-colbert",
            "lightonai/GTE-ModernColBERT-v1",
            lambda d: tiny_models.reference_copy("pylate_tiny_colbert", d),
            None,
            marks=SLOW,
        ),
        pytest.param(  # the hub cache loading runs by default in test_short_name_loads_..._with_its_preset
            "colbertv2",
            "colbert-ir/colbertv2.0",
            lambda d: tiny_models.reference_copy("colbert_ai_tiny_colbert", d),
            None,
            marks=SLOW,
        ),
        pytest.param(
            "qwen3-embedding-0.6b",
            "Qwen/Qwen3-Embedding-0.6B",
            lambda d: _qwen3_embedding_folder(d),
            "qwen3-embedding",
            marks=SLOW,
        ),
        pytest.param("e2rank-0.6b", "Alibaba-NLP/E2Rank-0.6B", lambda d: _e2rank_folder(d), "e2rank", marks=SLOW),
        pytest.param(
            "dear-8b-ce",
            "abdoelsayed/dear-8b-reranker-ce-v1",
            lambda d: tiny_models.llama_sequence_classifier(d, tiny_models.qwen_tokenizer()),
            "dear",
            marks=SLOW,
        ),
        pytest.param(
            "dear-8b-listwise",
            "abdoelsayed/dear-8b-reranker-listwise-v1",
            lambda d: tiny_models.qwen2_causal_lm(d, tiny_models.qwen_tokenizer()),
            "dear-listwise",
            marks=SLOW,
        ),
    ],
)
def test_each_family_loads_by_short_name_from_the_hf_cache_offline(tmp_path, name, hf_id, build, preset):
    """The real hub loading code on a cache layout, scoring as the same folder does under its preset."""
    folder = build(tmp_path / "folder")
    tiny_models.hf_cache_layout(tmp_path / "hub", hf_id, folder)
    code = (
        "import json; from rankwise import Reranker; r = Reranker.load(%r); ranking = r.rerank(%r, %r); "
        "print(json.dumps([r.method, {x.docid: x.score for x in ranking}]))" % (name, QUERY, PASSAGES)
    )
    done = _run_offline(tmp_path / "hub", code)
    assert done.returncode == 0, done.stderr[-3000:]
    method, scores = json.loads(done.stdout.strip().splitlines()[-1])
    local = Reranker.load(str(folder), **({"preset": preset} if preset else {}))
    expected = {x.docid: x.score for x in local.rerank(QUERY, PASSAGES)}
    assert method == local.method
    assert [scores[str(i)] for i in range(len(PASSAGES))] == pytest.approx(
        [expected[str(i)] for i in range(len(PASSAGES))], abs=1e-6
    )


def test_a_registered_checkpoint_missing_offline_names_its_id_cache_and_fetch_command(tmp_path):
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rankwise.cli",
            "rerank",
            "-m",
            "ms-marco-minilm-l6",
            "-q",
            QUERY,
            "--docs",
            str(EXAMPLES / "fleas.jsonl"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    message = " ".join(done.stderr.split())
    assert "cross-encoder/ms-marco-MiniLM-L6-v2 is not in the Hugging Face cache" in message
    assert str(tmp_path) in message and "hf download cross-encoder/ms-marco-MiniLM-L6-v2" in message


def test_a_folder_with_remote_code_is_refused_unless_trusted(tmp_path, tiny_qwen3):
    folder = tmp_path / "remote"
    folder.mkdir()
    for file in tiny_qwen3.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_custom.CustomReranker"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ModelNotAvailableError,
        match=r"needs code from its own repository \(modeling_custom."
        r"CustomReranker\); rankwise runs it only with "
        r"trust_remote_code=True",
    ):
        Reranker.load(str(folder), preset="qwen3-reranker")


def test_every_preset_is_valid_for_its_method_and_every_registered_preset_exists():
    """Presets are data: a typo in one would only show when a user loads that family."""
    from rankwise.models.registry import MODELS
    from rankwise.options import validate_options
    from rankwise.rerankers.presets import PRESETS
    from rankwise.rerankers.registry import method_class

    for preset in PRESETS.values():
        cls = method_class(preset.method)
        validate_options(cls.Options, f"preset {preset.name!r}", dict(preset.options))
        assert preset.reference, preset.name
    for spec in MODELS.values():
        if spec.preset is not None:  # the preset names the method; the row does not repeat it
            assert spec.default_method is None, spec.name
            assert spec.kind in method_class(PRESETS[spec.preset].method).model_kinds, spec.name


@pytest.fixture(scope="module")
def tiny_qwen2(tmp_path_factory, qwen_tokenizer):
    return tiny_models.qwen2_causal_lm(tmp_path_factory.mktemp("mxbai-v2") / "tiny", qwen_tokenizer)


@pytest.mark.parametrize("instruction, max_length", [(None, 8192), ("Find the answer", 40)])
def test_mxbai_rerank_v2_preset_equals_rerankers_mxbai_v2(tiny_qwen2, instruction, max_length):
    """rerankers 0.10 `MxBaiV2Ranker` (adapted from mixedbread's own mxbai-rerank code), one pair per call: it
    left-pads a batch, and Qwen2 then numbers the padded rows' positions from the padding."""
    mxbai = pytest.importorskip("rerankers.models.mxbai_v2", reason="rerankers 0.10 (a test dependency)")
    reference_model = mxbai.MxBaiV2Ranker(
        str(tiny_qwen2), device="cpu", dtype="float32", verbose=0, max_length=max_length
    )

    # transformers 5 dropped `prepare_for_model`, which the reference calls; this shim is transformers 4's
    # behaviour for that call (two id lists, no special tokens, truncation="only_second" to max_length).
    def prepare_for_model(first, second, truncation, max_length, **_):
        assert truncation == "only_second"
        return {"input_ids": list(first) + list(second)[: max(0, max_length - len(first))]}

    object.__setattr__(reference_model.tokenizer, "prepare_for_model", prepare_for_model)
    reference = [float(reference_model._predict([QUERY], [p], instruction=instruction)[0]) for p in PASSAGES]
    options = {"instruction": instruction} if instruction else {}
    reranker = Reranker.load(
        str(tiny_qwen2), preset="mxbai-rerank-v2", max_prompt_tokens=max_length, batch_size=3, **options
    )
    ranking = reranker.rerank(QUERY, PASSAGES)
    got = {r.docid: r.score for r in ranking}
    assert [got[str(i)] for i in range(len(PASSAGES))] == pytest.approx(reference, abs=1e-4)
    assert ranking.docids == [str(i) for i in sorted(range(len(PASSAGES)), key=lambda i: -reference[i])]
    assert ranking.score_kind.value == "logit"


def test_a_checkpoint_published_as_a_lora_adapter_loads_its_base_with_the_adapter_merged(tmp_path, tiny_qwen3):
    """Rank-R1's layout: adapter_config.json naming the base model, no config.json of its own."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_qwen3))
    adapter = get_peft_model(
        base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False, task_type="CAUSAL_LM")
    )
    adapter.save_pretrained(tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(tiny_qwen3) and not (tmp_path / "adapter" / "config.json").exists()
    merged = Reranker.load(str(tmp_path / "adapter"), preset="qwen3-reranker")
    explicit = Reranker.load(str(tiny_qwen3), preset="qwen3-reranker", adapter=str(tmp_path / "adapter"))
    plain = Reranker.load(str(tiny_qwen3), preset="qwen3-reranker")
    scores = [
        [r.score for r in sorted(m.rerank(QUERY, PASSAGES), key=lambda r: r.docid)] for m in (merged, explicit, plain)
    ]
    assert scores[0] == pytest.approx(scores[1], abs=1e-6)
    assert max(abs(a - b) for a, b in zip(scores[0], scores[2])) > 1e-4  # the adapter changed the model
    assert Reranker.load(str(tmp_path / "adapter")).method == "llm-pointwise"


@pytest.fixture(scope="module")
def tiny_gemma(tmp_path_factory, qwen_tokenizer):
    return tiny_models.gemma_causal_lm(tmp_path_factory.mktemp("bge-gemma") / "tiny", qwen_tokenizer)


@pytest.mark.parametrize("max_length", [512, 40])
def test_bge_reranker_gemma_preset_equals_flagembedding(tiny_gemma, max_length):
    """FlagEmbedding 1.4.2's LLM reranker (BaseLLMReranker.compute_score: BOS, "A: q", "\\n", "B: p", "\\n",
    its prompt; the raw logit of "Yes"), one pair per batch."""
    flag = pytest.importorskip(
        "FlagEmbedding.inference.reranker.decoder_only.base", reason="FlagEmbedding 1.4.2 (a test dependency)"
    )
    reference_model = flag.BaseLLMReranker(
        str(tiny_gemma), devices="cpu", use_fp16=False, batch_size=1, max_length=max_length
    )
    reference = [float(x) for x in reference_model.compute_score([[QUERY, p] for p in PASSAGES])]
    reranker = Reranker.load(str(tiny_gemma), preset="bge-reranker-gemma", max_prompt_tokens=max_length, batch_size=3)
    ranking = reranker.rerank(QUERY, PASSAGES)
    got = {r.docid: r.score for r in ranking}
    assert [got[str(i)] for i in range(len(PASSAGES))] == pytest.approx(reference, abs=1e-4)
    assert ranking.docids == [str(i) for i in sorted(range(len(PASSAGES)), key=lambda i: -reference[i])]
    with pytest.raises(Exception, match="score='raw-logit' reads a raw next-token logit, which backend 'scripted'"):
        from rankwise.rerankers.pointwise.llm import LLMPointwiseReranker

        class NoLogits:
            backend_name, capabilities, text, max_length = "scripted", frozenset(), reranker.lm.text, 8192

        LLMPointwiseReranker.build(NoLogits(), "x", answer_tokens="Yes,No", score="raw-logit")


@pytest.mark.parametrize("name, family", [("erank", "ERank"), ("grouprank", "GroupRank")])
def test_a_family_without_a_checked_prompt_is_refused_with_the_reason(name, family):
    """No preset is guessed: the name is refused, saying why and which method to run with the card's prompt."""
    from rankwise.errors import OptionError

    with pytest.raises(
        OptionError,
        match=f"rankwise has no preset '{name}': {family}.*a guessed prompt would "
        "score the checkpoint as another model",
    ):
        Reranker.load("smollm2-135m", preset=name)


def test_the_colbert_preset_names_what_the_folder_already_says(tmp_path):
    folder = tiny_models.reference_copy("pylate_tiny_colbert", tmp_path / "colbert")
    named, recognised = Reranker.load(str(folder), preset="colbert"), Reranker.load(str(folder))
    assert named.method == recognised.method == "colbert"
    assert [r.score for r in named.rerank(QUERY, PASSAGES)] == [r.score for r in recognised.rerank(QUERY, PASSAGES)]


LAYERWISE = ROOT / "tests" / "reference" / "flagembedding_1.4.2_layerwise.json"


def _layerwise_reference() -> dict:
    """FlagEmbedding 1.4.2's LayerWiseFlagLLMReranker.compute_score on the committed tiny MiniCPM layerwise folder,
    written in its own venv (transformers 4.46.3) by tests/reference/flagembedding_layerwise.py."""
    return json.loads(LAYERWISE.read_text())


@pytest.mark.parametrize("case", range(8))
def test_bge_layerwise_preset_equals_flagembedding_at_every_cutoff_layer(tmp_path, case):
    """Each cutoff layer (and the default, the last) and two length limits, one of which cuts the long
    passage; the folder's auto_map is not run (its MiniCPM code fails on transformers 5)."""
    reference = _layerwise_reference()
    assert reference["library"].startswith("FlagEmbedding 1.4.2") and reference["transformers"] == "4.46.3"
    expected = reference["cases"][case]
    folder = tiny_models.reference_copy("minicpm_layerwise_tiny", tmp_path / "layerwise")
    # cutoff_layers=None is FlagEmbedding's default, the last layer: the method's default too (the preset's is 28)
    chosen = (
        {"preset": "bge-reranker-layerwise", "layer": expected["cutoff_layers"][0]} if expected["cutoff_layers"] else {}
    )
    reranker = Reranker.load(str(folder), **chosen, max_prompt_tokens=expected["max_length"], batch_size=3)
    ranking = reranker.rerank(reference["query"], reference["passages"])
    got = {r.docid: r.score for r in ranking}
    assert [got[str(i)] for i in range(len(reference["passages"]))] == pytest.approx(expected["scores"], abs=1e-4)
    assert ranking.docids == [
        str(i) for i in sorted(range(len(expected["scores"])), key=lambda i: -expected["scores"][i])
    ]
    assert ranking.score_kind.value == "logit"


def test_layers_score_differently_and_a_cut_passage_changes_its_score():
    """The reference itself is not degenerate: heads differ per layer, and the 40-token limit cuts passage 2."""
    cases = _layerwise_reference()["cases"]
    full = {tuple(c["cutoff_layers"] or [4]): c["scores"] for c in cases if c["max_length"] == 512}
    short = {tuple(c["cutoff_layers"] or [4]): c["scores"] for c in cases if c["max_length"] == 40}
    assert full[(2,)] != pytest.approx(full[(3,)], abs=1e-3)
    assert full[(4,)][2] != pytest.approx(short[(4,)][2], abs=1e-3)
    assert full[(4,)][0] == pytest.approx(short[(4,)][0], abs=1e-6)


def test_a_layerwise_folder_is_recognised_and_refuses_other_methods_and_missing_layers(tmp_path):
    folder = tiny_models.reference_copy("minicpm_layerwise_tiny", tmp_path / "layerwise")
    reranker = Reranker.load(str(folder))
    assert (reranker.method, reranker.layer) == ("layerwise-pointwise", 4)
    with pytest.raises(Exception, match=r"\(layerwise-lm\) supports layerwise-pointwise, not 'llm-pointwise'"):
        Reranker.load(str(folder), method="llm-pointwise")
    with pytest.raises(OptionError, match="option layer=28: .* has relevance heads at layers 2..4 only"):
        Reranker.load(str(folder), preset="bge-reranker-layerwise")
    # a passage past the model's 512-token context: the pair is cut to fit it, the template's suffix kept whole
    longest = reranker._encode(QUERY, "fleas bite " * 2000, "long")
    assert len(longest) == 512 and reranker.model.text.decode(longest).endswith("either 'Yes' or 'No'.")
    assert reranker.rerank(QUERY, ["fleas bite " * 2000, "a flea"]).docids
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "head_type": "complex"}))
    with pytest.raises(
        ModelNotAvailableError, match="head_type 'complex' gives vocabulary logits, not a relevance score"
    ):
        Reranker.load(str(folder))


@SLOW  # 7 s; the hub cache loading is the colbertv2 and qwen3 short names' (by default)
def test_the_layerwise_short_name_loads_from_the_hf_cache_offline(tmp_path):
    folder = tiny_models.reference_copy("minicpm_layerwise_tiny", tmp_path / "folder")
    tiny_models.hf_cache_layout(tmp_path / "hub", "BAAI/bge-reranker-v2-minicpm-layerwise", folder)
    code = (
        "import json; from rankwise import Reranker; r = Reranker.load('bge-reranker-v2-minicpm-layerwise', "
        f"layer=3); ranking = r.rerank({QUERY!r}, {PASSAGES!r}); "
        "print(json.dumps([r.method, {x.docid: x.score for x in ranking}]))"
    )
    done = _run_offline(tmp_path / "hub", code)
    assert done.returncode == 0, done.stderr[-3000:]
    method, scores = json.loads(done.stdout.strip().splitlines()[-1])
    local = {x.docid: x.score for x in Reranker.load(str(folder), layer=3).rerank(QUERY, PASSAGES)}
    assert method == "layerwise-pointwise"
    assert [scores[str(i)] for i in range(len(PASSAGES))] == pytest.approx([local[str(i)] for i in range(4)], abs=1e-6)
