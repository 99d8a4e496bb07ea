"""LLM pointwise (yes/no) and query likelihood on SmolLM2-135M, the smallest real causal LM here."""

import numpy as np
import pytest

from rankwise import InputError, Reranker


def _manual_next_token_logprobs(lm, ids, token_ids):
    import torch

    with torch.no_grad():
        logits = lm.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
    return logits.log_softmax(-1)[token_ids].numpy()


def test_yes_no_score_is_log_odds_of_the_next_token(smollm_pointwise):
    lm = smollm_pointwise.lm
    ranking = smollm_pointwise.rerank("how long do fleas live", ["Adult fleas live two to three months."])
    passage = "Adult fleas live two to three months."
    text = lm.chat_prefix(smollm_pointwise.prompt.messages(query="how long do fleas live", passage=passage))
    lp = _manual_next_token_logprobs(lm, lm.encode(text), smollm_pointwise.yes_ids + smollm_pointwise.no_ids)
    n_yes = len(smollm_pointwise.yes_ids)
    expected = np.logaddexp.reduce(lp[:n_yes]) - np.logaddexp.reduce(lp[n_yes:])
    assert ranking[0].score == pytest.approx(float(expected), abs=1e-4)


def test_left_padded_batches_equal_single_sequences(smollm_pointwise):
    """Padding must not change a row's result: positions are counted from each row's first real token."""
    lm = smollm_pointwise.lm
    sequences = [
        lm.encode("Fleas are small insects."),
        lm.encode("Hi"),
        lm.encode("A much longer sentence about the lifespan of fleas and ticks on pets."),
    ]
    targets = smollm_pointwise.yes_ids + smollm_pointwise.no_ids
    batched = lm.next_token_logprobs(sequences, targets)
    for row, ids in zip(batched, sequences):
        assert row == pytest.approx(_manual_next_token_logprobs(lm, ids, targets), abs=1e-4)


def test_pointwise_is_deterministic_and_batch_invariant(flea_docs):
    a = Reranker.load("smollm2-135m", method="llm-pointwise", batch_size=1)
    b = Reranker.load("smollm2-135m", method="llm-pointwise", batch_size=8)
    docs = flea_docs[:4]
    first, second, third = (r.rerank("how long do fleas live", docs) for r in (a, b, b))
    assert first.docids == second.docids == third.docids
    assert [r.score for r in first] == pytest.approx([r.score for r in second], abs=1e-4)
    assert [r.score for r in second] == [r.score for r in third]


def test_query_likelihood_equals_mean_token_log_probability(smollm_likelihood):
    import torch

    lm = smollm_likelihood.lm
    passage, query = "Adult fleas live two to three months.", "how long do fleas live"
    ranking = smollm_likelihood.rerank(query, [passage])
    prefix = lm.encode(lm.chat_prefix(smollm_likelihood.prompt.messages(passage=passage)))
    target = lm.encode(query)
    with torch.no_grad():
        logits = lm.model(input_ids=torch.tensor([prefix + target])).logits[0].float()
    log_probs = logits[len(prefix) - 1 : -1].log_softmax(-1)
    expected = log_probs.gather(-1, torch.tensor(target).unsqueeze(-1)).mean().item()
    assert ranking[0].score == pytest.approx(expected, abs=1e-4)


def test_query_likelihood_prefers_the_passage_that_answers(smollm_likelihood, flea_docs):
    ranking = smollm_likelihood.rerank("how long do fleas live", flea_docs)
    position = {docid: i for i, docid in enumerate(ranking.docids)}
    assert position["flea-lifespan"] < position["sourdough"]
    assert position["flea-lifespan"] < position["flea-market"]
    assert ranking.trace["method"] == "query-likelihood"


def test_pointwise_prefers_an_on_topic_passage_over_an_unrelated_one(smollm_pointwise, flea_docs):
    by_id = {d.docid: d for d in flea_docs}
    ranking = smollm_pointwise.rerank("how long do fleas live", [by_id["sourdough"], by_id["flea-lifespan"]])
    assert ranking[0].docid == "flea-lifespan"


def test_passage_over_the_limit_is_truncated_or_refused():
    long_passage = "Fleas live for months. " * 200
    lenient = Reranker.load("smollm2-135m", method="llm-pointwise", max_passage_tokens=32)
    assert len(lenient.rerank("fleas", [long_passage, "short"])) == 2
    strict = Reranker.load("smollm2-135m", method="llm-pointwise", max_passage_tokens=32, truncate=False)
    with pytest.raises(InputError, match=r"passage '0' has \d+ tokens, over the limit of 32"):
        strict.rerank("fleas", [long_passage])


def test_prompt_over_the_context_is_refused():
    reranker = Reranker.load("smollm2-135m", method="query-likelihood", max_length=64)
    with pytest.raises(InputError, match="over the model's limit of 64"):
        reranker.rerank("how long do fleas live " * 20, ["Fleas live for months."])


def test_one_truncation_per_tokenizer_keeps_the_original_text_where_offsets_exist():
    """The text side's truncate_text, the backend's cut_to_tokens (what the server uses) and HFTokenCounting
    agree: a Hugging Face tokenizer keeps an exact prefix of the original text."""
    from rankwise.backends.chat_tokenizer import ChatTokenizer
    from rankwise.models import resolve_model

    text = ChatTokenizer.load(resolve_model("smollm2-135m").path, "smollm2-135m")
    passage = "Fleas  live   two to three months — sometimes longer, in café corners."
    for n in (1, 3, 7, 12):
        cut = text.truncate_text(passage, n)
        assert passage.startswith(cut) and len(text.encode(cut)) <= n
        assert cut == text.cut_to_tokens(passage, n)
