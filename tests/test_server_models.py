"""Several models and LoRA adapters in one server (issue 41, item 3): `serve -m A -m NAME=B --adapter N=DIR`,
`model` in every dialect picks one, an unknown name is a 404 naming the served ones, /v1/models lists them,
/metrics labels by model; an adapter's scores equal the same adapter merged into the base, and requests for
different adapters in one micro-batch are scored in groups, one per adapter."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from rankwise.rerankers.base import PointwiseReranker
from rankwise.server import ModelToServe, ServerSettings, create_app
from server_helpers import cli_server, threaded_server

QUERY = "how do fleas jump so far"
DOCUMENTS = [
    "Bread is baked from flour, water and yeast.",
    "Fleas jump with a pad of resilin in their legs that releases stored energy.",
    "Cats and dogs often carry fleas.",
]


def make_adapter(folder, seed: int) -> str:
    """A LoRA adapter over SmolLM2-135M with random (not zero) weights, so it changes the scores."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from rankwise.models.resolve import resolve_model

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(resolve_model("smollm2-135m").path)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope="module")
def adapters(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return {"legal": make_adapter(root / "legal", 1), "medical": make_adapter(root / "medical", 2)}


@pytest.fixture(scope="module")
def server(adapters):
    arguments = ["-m", "small=llm-pointwise:smollm2-135m{batch_size=4}", "-m", "maxsim=maxsim:minilm-embed"]
    for name, folder in adapters.items():
        arguments += ["--adapter", f"{name}={folder}"]
    with cli_server(*arguments, "--max-wait-ms", "20") as (base, _):
        yield base


def scores_by_index(results: list[dict], key: str = "relevance_score") -> list[float]:
    return [value for _, value in sorted((r["index"], r[key]) for r in results)]


def rerank(server: str, model: str | None, path: str = "/v2/rerank") -> dict:
    body = {"query": QUERY, "documents": DOCUMENTS} | ({"model": model} if model is not None else {})
    answer = httpx.post(f"{server}{path}", json=body, timeout=120)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_models_are_listed_with_their_methods_score_kinds_and_parents(server):
    data = httpx.get(f"{server}/v1/models").json()["data"]
    listed = {m["id"]: (m["method"], m["score_kind"], m["parent"]) for m in data}
    assert listed == {
        "small": ("llm-pointwise", "logit", None),
        "legal": ("llm-pointwise", "logit", "small"),
        "medical": ("llm-pointwise", "logit", "small"),
        "maxsim": ("maxsim", "standardized", None),
    }
    assert httpx.get(f"{server}/ready").json()["models"] == ["small", "legal", "medical", "maxsim"]


def test_an_unknown_model_is_a_404_naming_the_served_ones(server):
    body = {"model": "rerank-v3.5", "query": QUERY, "documents": DOCUMENTS}
    answer = httpx.post(f"{server}/v1/rerank", json=body, timeout=60)
    assert answer.status_code == 404
    assert answer.json()["error"] == (
        "model 'rerank-v3.5' is not served here; served: 'small', 'legal', 'medical', 'maxsim'"
    )


def test_each_adapter_scores_as_the_adapter_merged_into_the_base(server, adapters, smollm_pointwise):
    from rankwise import Reranker

    raw = {name: scores_by_index(rerank(server, name)["results"]) for name in ("small", "legal", "medical")}
    assert rerank(server, None)["model"] == "small"  # no model named: the first
    served = {name: scores_by_index(rerank(server, name, "/rerank")["results"]) for name in raw}
    assert served == raw  # Jina's shape on /rerank picks the same model by name
    tei_raw = httpx.post(
        f"{server}/rerank",
        json={"model": "legal", "query": QUERY, "texts": DOCUMENTS, "raw_scores": True},
        timeout=120,
    ).json()
    merged = Reranker.load("smollm2-135m", method="llm-pointwise", adapter=adapters["legal"], batch_size=4)
    expected_legal = [c.score for c in sorted(merged.rerank(QUERY, DOCUMENTS), key=lambda c: int(c.docid))]
    expected_base = [c.score for c in sorted(smollm_pointwise.rerank(QUERY, DOCUMENTS), key=lambda c: int(c.docid))]
    assert scores_by_index(tei_raw, "score") == pytest.approx(expected_legal, abs=1e-4)
    base_raw = httpx.post(
        f"{server}/rerank",
        json={"model": "small", "query": QUERY, "texts": DOCUMENTS, "raw_scores": True},
        timeout=120,
    )
    assert scores_by_index(base_raw.json(), "score") == pytest.approx(expected_base, abs=1e-4)
    assert raw["legal"] != raw["small"] and raw["medical"] != raw["legal"]  # the adapters do change the scores


def test_every_dialect_answers_with_the_model_it_names(server):
    pairs = {"text_1": QUERY, "text_2": DOCUMENTS}
    for model in ("maxsim", "medical"):
        assert rerank(server, model, "/v1/rerank")["model"] == model
        assert rerank(server, model, "/rerank")["model"] == model  # Jina's shape on /rerank
        scored = httpx.post(f"{server}/v1/score", json={"model": model, **pairs}, timeout=120).json()
        assert scored["model"] == model
        voyage = httpx.post(
            f"{server}/voyage/v1/rerank", json={"model": model, "query": QUERY, "documents": DOCUMENTS}, timeout=120
        ).json()
        assert voyage["model"] == model
    maxsim = scores_by_index(rerank(server, "maxsim")["results"])
    assert maxsim != scores_by_index(rerank(server, "small")["results"])


def test_metrics_are_labelled_by_model(server):
    rerank(server, "maxsim")
    rerank(server, "legal")
    text = httpx.get(f"{server}/metrics").text
    for model in ("maxsim", "legal"):
        assert re.search(rf'rankwise_documents_total\{{model="{model}"\}} [1-9]', text), model
        assert f'rankwise_requests_total{{code="200",model="{model}",route="/v2/rerank"}}' in text
    assert 'rankwise_queue_pairs{model="small"}' in text and 'rankwise_queue_pairs{model="maxsim"}' in text
    # a request refused before it named a served model is not labelled with the client's text
    assert 'model="rerank-v3.5"' not in text


class RecordingSwitch:
    """An adapter switch that records, for each model call, which adapter was on."""

    adapter_names = ("legal", "medical")

    def __init__(self):
        self.active: str | None = None

    def use_adapter(self, name):
        self.active = name


class LengthScorer(PointwiseReranker):
    method = "length"

    def __init__(self, switch):
        super().__init__("length")
        self.adapters = switch
        self.calls: list[tuple[str | None, list[str]]] = []

    def score_pairs(self, pairs):
        self.calls.append((self.adapters.active, [c.text for _, c in pairs]))
        return [float(len(c.text)) for _, c in pairs]


def test_one_micro_batch_is_scored_in_groups_one_per_adapter():
    scorer = LengthScorer(RecordingSwitch())
    settings = ServerSettings(model_name="base", max_wait_ms=300)
    app = create_app([ModelToServe("base", scorer, ("legal", "medical"))], settings)
    requests = [("legal", "l1"), ("medical", "m1"), (None, "b1"), ("legal", "l2"), ("base", "b2")]
    with threaded_server(app) as base:

        async def send_all():
            async with httpx.AsyncClient(timeout=60) as client:
                bodies = [{"query": "q", "documents": [text]} | ({"model": m} if m else {}) for m, text in requests]
                return await asyncio.gather(*(client.post(f"{base}/v1/rerank", json=b) for b in bodies))

        answers = asyncio.run(send_all())
    assert [a.json()["model"] for a in answers] == ["legal", "medical", "base", "legal", "base"]
    calls = sorted(((adapter, sorted(texts)) for adapter, texts in scorer.calls), key=str)  # arrival order varies
    assert calls == sorted([("legal", ["l1", "l2"]), ("medical", ["m1"]), (None, ["b1", "b2"])], key=str)


def test_adapters_are_refused_where_they_cannot_be_switched(tmp_path, adapters):
    from rankwise import Reranker
    from rankwise.errors import OptionError, UnsupportedMethodError

    with pytest.raises(OptionError, match="quantize and adapters do not go together"):
        Reranker.load("smollm2-135m", method="llm-pointwise", adapters=adapters, quantize="int8")
    with pytest.raises(UnsupportedMethodError, match="keys scores by model, not by the LoRA adapter"):
        Reranker.load("smollm2-135m", method="llm-pointwise", adapters=adapters, cache=str(tmp_path / "cache"))
    with pytest.raises(Exception, match="adapters.*does not fit this model|does not fit this model"):
        Reranker.load("minilm-embed", adapters={"legal": adapters["legal"]})


def test_two_models_or_adapters_of_one_name_are_refused():
    scorer = LengthScorer(RecordingSwitch())
    from rankwise.errors import InputError

    with pytest.raises(InputError, match="repeated: legal"):
        create_app(
            [ModelToServe("base", scorer, ("legal", "medical")), ModelToServe("legal", scorer)], ServerSettings("b")
        )
