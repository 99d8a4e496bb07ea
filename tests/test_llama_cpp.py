"""The llama.cpp backend on SmolLM2's GGUF file as shipped: same tokens and prompts as transformers, log-probs
close to the dequantized fp32 model, every LLM method through the same interface, exact prefix reuse."""

import numpy as np
import pytest

pytest.importorskip("llama_cpp", reason="the llama.cpp backend needs the llama-cpp extra (make setup builds it)")

from rankwise import ModelNotAvailableError, OptionError, Reranker
from rankwise.backends.chat_tokenizer import ChatTokenizer
from rankwise.backends.options import RuntimeOptions, TransformersOptions
from rankwise.backends.registry import locate, open_backend
from rankwise.models import resolve_model
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.listwise.llm import FirstReranker
from rankwise.rerankers.listwise.sliding_window import Window
from rankwise.rerankers.prompts.listwise import identifiers
from rankwise.rerankers.shared.first_token import FirstTokenScheme

MESSAGES = [
    {"role": "system", "content": "You rank passages."},
    {"role": "user", "content": "Query: how long do fleas live\nPassage: [A] fleas live 2-3 months"},
]


@pytest.fixture(scope="module")
def gguf_lm():
    location = locate("smollm2-135m", "llama.cpp")
    return open_backend(location, RuntimeOptions(backend="llama.cpp", max_length=2048), FirstReranker.requires, "first")


@pytest.fixture(scope="module")
def hf_text():
    location = resolve_model("smollm2-135m")
    return ChatTokenizer.load(location.path, "smollm2-135m")


def test_runs_the_gguf_file_itself(gguf_lm):
    assert gguf_lm.location.path.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert gguf_lm.backend_name == "llama.cpp"


def test_chat_prompt_and_tokens_match_transformers(gguf_lm, hf_text):
    prompt = gguf_lm.chat_prefix(MESSAGES)
    assert prompt == hf_text.chat_prefix(MESSAGES)
    assert gguf_lm.encode(prompt) == hf_text.encode(prompt)
    # FIRST's identifier analysis sees the same tokens, so the same exact scheme.
    labels = identifiers("alpha", 10)
    assert FirstTokenScheme.analyze(gguf_lm.text, labels) == FirstTokenScheme.analyze(hf_text, labels)


def test_next_token_logprobs_are_close_to_the_fp32_model(gguf_lm):
    from rankwise.backends.causal_lm import CausalLM

    fp32 = CausalLM(resolve_model("smollm2-135m"), TransformersOptions(batch_size=4))
    prompts = [
        gguf_lm.encode(gguf_lm.chat_prefix([{"role": "user", "content": text}]))
        for text in ("Is the sky blue? Answer Yes or No.", "Name a fruit.", "Count: one, two,")
    ]
    tokens = gguf_lm.text.single_token_ids(["Yes", "No", " three", "Apple", "The"])
    quantized = gguf_lm.next_token_logprobs(prompts, tokens)
    reference = fp32.next_token_logprobs(prompts, tokens)
    assert quantized.shape == reference.shape == (3, len(tokens))
    # Q4_1 weights: the same model up to quantization noise, well under a nat on these tokens.
    assert np.abs(quantized - reference).max() < 1.0
    assert np.corrcoef(quantized.ravel(), reference.ravel())[0, 1] > 0.95


def test_first_identifier_logprobs_agree_with_transformers(gguf_lm):
    """FIRST's exact scheme (SmolLM2 splits "[A" so every identifier is bridged) read on both backends."""
    from rankwise.backends.causal_lm import CausalLM

    fp32 = CausalLM(resolve_model("smollm2-135m"), TransformersOptions(batch_size=1))
    passages = [
        "Fleas live two to three months.",
        "Bread needs flour.",
        "A flea's life cycle lasts weeks.",
        "Cats sleep a lot.",
    ]
    scores = []
    for lm in (fp32, gguf_lm):
        first = FirstReranker.build(lm, "smollm2-135m", window=4, stride=2)
        scheme = first.scheme(4)
        assert scheme.needs_step and len(scheme.bridged) == 4
        window = first.encode_window(Window("how long do fleas live", passages))[0]
        bridged_ids = list(scheme.bridged.values())
        head, tail = lm.first_token_logprobs([window], [scheme.bridge_id], scheme.bridge_id, bridged_ids)
        scores.append(head[0, 0] + tail[0])
    transformers_scores, llama_scores = scores
    assert np.abs(transformers_scores - llama_scores).max() < 1.0  # Q4_1 against fp32: quantization noise only
    assert np.corrcoef(transformers_scores, llama_scores)[0, 1] > 0.9


def test_continuation_logprobs_are_close_to_the_fp32_model(gguf_lm):
    from rankwise.backends.causal_lm import CausalLM

    fp32 = CausalLM(resolve_model("smollm2-135m"), TransformersOptions(batch_size=4))
    prefixes = [
        gguf_lm.encode(gguf_lm.chat_prefix([{"role": "user", "content": f"Passage: {text}\nWrite a question."}]))
        for text in ("Fleas live two to three months.", "Sourdough needs a starter.")
    ]
    continuation = gguf_lm.encode("how long do fleas live")
    quantized = gguf_lm.continuation_logprobs(prefixes, [continuation] * 2)
    reference = fp32.continuation_logprobs(prefixes, [continuation] * 2)
    for q, r in zip(quantized, reference):
        assert q.shape == r.shape == (len(continuation),)
        assert np.abs(q - r).mean() < 0.5
    # the query is likelier after the passage about fleas, on both backends
    assert quantized[0].mean() > quantized[1].mean() and reference[0].mean() > reference[1].mean()


def test_prefix_reuse_gives_the_same_numbers_as_fresh_evaluation(gguf_lm):
    base = gguf_lm.encode(gguf_lm.chat_prefix(MESSAGES))
    sequences = [base + gguf_lm.encode(f" option {i}") for i in range(4)]
    tokens = gguf_lm.text.single_token_ids(["Yes", "No"])
    before = gguf_lm.stats["reused_tokens"]
    together = gguf_lm.next_token_logprobs(sequences, tokens)
    assert gguf_lm.stats["reused_tokens"] - before >= 3 * len(base)  # three of four reuse the shared prompt
    for i, sequence in enumerate(sequences):
        gguf_lm.llm.reset()
        alone = gguf_lm.next_token_logprobs([sequence], tokens)[0]
        assert alone == pytest.approx(together[i], abs=1e-3)


@pytest.mark.parametrize("method", ["llm-pointwise", "query-likelihood", "first", "listwise-generate"])
def test_every_llm_method_runs_on_llama_cpp(method, flea_docs):
    reranker = (
        Reranker.load("smollm2-135m", method=method, backend="llama.cpp", window=4, stride=2)
        if method in ("first", "listwise-generate")
        else Reranker.load("smollm2-135m", method=method, backend="llama.cpp")
    )
    assert isinstance(reranker, BaseReranker)
    ranking = reranker.rerank("how long do fleas live", flea_docs[:6])
    assert sorted(ranking.docids) == sorted(d.docid for d in flea_docs[:6])
    if method in ("llm-pointwise", "query-likelihood"):
        assert len({r.score for r in ranking}) > 1  # real scores, not a constant


def test_transformers_only_options_and_non_gguf_models_are_refused():
    with pytest.raises(
        OptionError, match="runtime option adapter=.x. does not apply to backend .llama.cpp.: merge the LoRA adapter"
    ):
        Reranker.load("smollm2-135m", method="first", backend="llama.cpp", adapter="x")
    with pytest.raises(ModelNotAvailableError, match="model 'minilm-embed' has no GGUF weights"):
        Reranker.load("minilm-embed", backend="llama.cpp")
