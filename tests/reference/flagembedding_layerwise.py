"""Writes minicpm_layerwise_tiny/ (a seeded four-layer LayerWiseMiniCPMForCausalLM, the architecture of
BAAI/bge-reranker-v2-minicpm-layerwise, saved by FlagEmbedding's own model class; about 150 KB, committed) and
flagembedding_1.4.2_layerwise.json (FlagEmbedding's LayerWiseFlagLLMReranker scores for it at each cutoff
layer), which tests/test_checkpoints.py compares with rankwise's `bge-reranker-layerwise` preset.

FlagEmbedding's MiniCPM code fails on transformers 5 (`KeyError: 'type'` in `_init_rope`), so it runs in its
own environment with transformers 4.46. Regenerate:

    python3 -m venv /tmp/minicpm && /tmp/minicpm/bin/pip install torch==2.13.0 transformers==4.46.3 \
        tokenizers==0.20.3 "huggingface_hub<1.0" peft==0.13.2 accelerate datasets==3.1.0 sentencepiece
    /tmp/minicpm/bin/pip install --no-deps FlagEmbedding==1.4.2
    /tmp/minicpm/bin/python tests/reference/flagembedding_layerwise.py
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

import torch
from FlagEmbedding.inference.reranker.decoder_only.layerwise import LayerWiseLLMReranker
from FlagEmbedding.inference.reranker.decoder_only.models.configuration_minicpm_reranker import LayerWiseMiniCPMConfig
from FlagEmbedding.inference.reranker.decoder_only.models.modeling_minicpm_reranker import LayerWiseMiniCPMForCausalLM
from tokenizers import ByteLevelBPETokenizer
from transformers import PreTrainedTokenizerFast

HERE = Path(__file__).parent
FOLDER = HERE / "minicpm_layerwise_tiny"
OUT = HERE / "flagembedding_1.4.2_layerwise.json"
QUERY = "how long do fleas live"
PASSAGES = [
    "An adult flea lives two to three months.",
    "Sourdough needs feeding with flour and water, daily!",
    "Fleas eat blood; a flea feeds on its host. " * 12,
    "The flea market sells records, and antiques.",
    "Fleas live for about 100 days on a host.",
]
CORPUS = [
    QUERY,
    *PASSAGES,
    "A: B: \nGiven a query A and a passage B, determine whether the passage contains an "
    "answer to the query by providing a prediction of either 'Yes' or 'No'.",
]
# The published checkpoint's config as its folder ships it (auto_map to its own files), at a tiny size.
AUTO_MAP = {
    "AutoConfig": "configuration_minicpm_reranker.LayerWiseMiniCPMConfig",
    "AutoModel": "modeling_minicpm_reranker.LayerWiseMiniCPMModel",
    "AutoModelForCausalLM": "modeling_minicpm_reranker.LayerWiseMiniCPMForCausalLM",
}


def main() -> None:
    shutil.rmtree(FOLDER, ignore_errors=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        CORPUS * 10, vocab_size=400, min_frequency=1, special_tokens=["<unk>", "<s>", "</s>", "<pad>"]
    )
    # Right padding: FlagEmbedding passes no position ids, so a left-padded row's positions would shift with
    # its batch; right-padded rows score as they would alone (what rankwise computes for every row).
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        padding_side="right",
    )
    torch.manual_seed(0)
    config = LayerWiseMiniCPMConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        rms_norm_eps=1e-5,
        initializer_range=0.2,
        scale_emb=12,
        scale_depth=1.4,
        dim_model_base=8,
        start_layer=2,
        head_multi=True,
        head_type="simple",
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    config._attn_implementation = "eager"
    model = LayerWiseMiniCPMForCausalLM(config).eval()
    with torch.no_grad():  # norms away from 1, so that a norm left out would change every score
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.copy_(1 + 0.3 * torch.randn_like(parameter))
    model.save_pretrained(FOLDER)
    tokenizer.save_pretrained(FOLDER)
    saved = json.loads((FOLDER / "config.json").read_text())
    (FOLDER / "config.json").write_text(json.dumps({**saved, "auto_map": AUTO_MAP}, indent=2) + "\n")

    cases = []
    for max_length in (512, 40):
        for layers in ([2], [3], [4], None):
            reranker = LayerWiseLLMReranker(
                str(FOLDER), devices="cpu", use_fp16=False, batch_size=2, max_length=max_length, cutoff_layers=layers
            )
            scores = reranker.compute_score([[QUERY, passage] for passage in PASSAGES])
            cases.append({"max_length": max_length, "cutoff_layers": layers, "scores": [float(s) for s in scores]})
            reranker.stop_self_pool()
    OUT.write_text(
        json.dumps(
            {
                "library": f"FlagEmbedding {metadata.version('FlagEmbedding')} LayerWiseFlagLLMReranker.compute_score",
                "transformers": metadata.version("transformers"),
                "torch": metadata.version("torch"),
                "query": QUERY,
                "passages": PASSAGES,
                "cases": cases,
            },
            indent=1,
        )
        + "\n"
    )
    print(json.dumps(cases, indent=1))


if __name__ == "__main__":
    main()
