"""Encoder-decoder (T5) primitives: a source text is encoded once and the decoder takes one step from its
start token; the method reads the logits of the tokens it names there (monoT5's true/false, duoT5's).

Sources are tokenized whole, as the checkpoints' reference code does (SentencePiece marks word starts, so
the pieces of a template tokenized apart would differ). A source over the limit is fitted by cutting the
passages it holds, never the template's words after them: `fit_source` rebuilds the text from shorter
passages until it fits."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rankwise.backends.adapters import SwitchesAdapters
from rankwise.backends.interface import Capability, HFTokenCounting
from rankwise.backends.options import TransformersOptions
from rankwise.backends.runtime import length_sorted_batches, load_tokenizer_and_model
from rankwise.budget import OverBudget, Policy, fit
from rankwise.cancellation import check_cancelled
from rankwise.errors import InputError, UnsupportedMethodError
from rankwise.models.resolve import ModelLocation

if TYPE_CHECKING:
    import numpy as np

# T5's tokenizers declare no usable limit for some checkpoints; the models were trained on 512 tokens.
DEFAULT_SOURCE_TOKENS = 512


# A Fusion-in-Decoder checkpoint saved from the FiD code's wrapped T5 (Izacard & Grave's FiDT5, which ListT5
# ships) names its encoder blocks "encoder.encoder.block.N.module.*"; a T5 load leaves such an encoder at random.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def load_fid_encoder(model: Any, location: ModelLocation) -> None:
    """Load the encoder of a FiD-wrapped checkpoint into the plain T5 `model` (keys unwrapped); any other
    checkpoint is left as loaded. A wrapped checkpoint whose encoder cannot be filled completely is refused."""
    keys, load = _weight_keys(location)
    if not any(key.startswith("encoder.encoder.") for key in keys):
        return
    state = load()
    unwrapped = {}
    for key, value in state.items():
        if key.startswith("encoder.encoder."):
            key = "encoder." + key[len("encoder.encoder.") :].replace(".module.", ".", 1)
        unwrapped[key] = value
    wanted = [k for k in model.state_dict() if k.startswith("encoder.") and k != "encoder.embed_tokens.weight"]
    missing = [k for k in wanted if k not in unwrapped]
    if missing:
        raise UnsupportedMethodError(
            f"{location.label}: a Fusion-in-Decoder checkpoint whose encoder weights do not map onto T5's "
            f"({len(missing)} missing, e.g. {missing[0]}); loading it would score with a random encoder"
        )
    model.load_state_dict(unwrapped, strict=False)


def _weight_keys(location: ModelLocation) -> tuple[list[str], Callable[[], dict[str, Any]]]:
    """The weight names of a one-file checkpoint and a loader of its tensors; none for a sharded one (whose
    index file lists them) or a folder without weights here."""
    from rankwise.backends.runtime import checkpoint_file

    for name in WEIGHT_FILES:
        try:
            path = checkpoint_file(location, name)
        except Exception:
            continue
        if name.endswith(".safetensors"):
            from safetensors import safe_open
            from safetensors.torch import load_file

            with safe_open(str(path), framework="pt") as handle:
                keys = list(handle.keys())
            return keys, functools.partial(load_file, str(path))
        import torch

        # mmap: the names are read without loading every tensor (the model itself was loaded already).
        state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        return list(state), functools.partial(dict, state)
    index = location.read_json("model.safetensors.index.json") or location.read_json("pytorch_model.bin.index.json")
    if index and any(str(k).startswith("encoder.encoder.") for k in index.get("weight_map", {})):
        raise UnsupportedMethodError(
            f"{location.label}: a sharded Fusion-in-Decoder checkpoint (encoder.encoder.* weights), which rankwise "
            "does not unwrap; save it as one file"
        )
    return [], dict


class Seq2SeqLM(HFTokenCounting, SwitchesAdapters):
    backend_name = "transformers"
    capabilities = frozenset({Capability.SEQ2SEQ})

    def __init__(self, location: ModelLocation, options: TransformersOptions):
        import torch
        from transformers import AutoModelForSeq2SeqLM

        self._torch = torch
        self.options = options
        self.tokenizer, self.model, self.device = load_tokenizer_and_model(
            AutoModelForSeq2SeqLM, location, options, repair=load_fid_encoder
        )
        declared = self.tokenizer.model_max_length
        limit = declared if declared and declared < 100_000 else DEFAULT_SOURCE_TOKENS
        self.max_length = min(options.max_length or limit, limit)
        start = self.model.config.decoder_start_token_id
        self.decoder_start_id = start if start is not None else self.tokenizer.pad_token_id
        self.pad_id = self.tokenizer.pad_token_id or 0
        self.stats: Counter[str] = Counter()

    def vocabulary_id(self, token: str) -> int:
        """The id of a vocabulary entry as written (SentencePiece spelling, e.g. '▁true')."""
        vocabulary = self.tokenizer.get_vocab()
        if token not in vocabulary:
            raise UnsupportedMethodError(f"the tokenizer has no token {token!r}, which this method reads")
        return vocabulary[token]

    def encode_source(self, text: str) -> list[int]:
        """Token ids of a whole source text, end-of-sequence token included (as T5 was trained)."""
        return self.tokenizer(text)["input_ids"]

    def fit_source(
        self, build: Callable[[list[str]], str], passages: Sequence[str], what: str, policy: Policy
    ) -> list[int]:
        """The ids of `build(passages)`, with the passages cut from their ends by the method's `policy`
        (`budget.fit`) until the whole source fits the limit; with `truncate=False` an over-long source is an
        error."""
        passages = list(passages)
        ids = self.encode_source(build(passages))
        if len(ids) <= self.max_length:
            return ids
        if not self.options.truncate:
            raise InputError(f"{what} has {len(ids)} tokens, over the limit of {self.max_length}")
        counts = self.count_tokens(passages)
        for _ in range(8):  # re-tokenizing the joined text can shift a piece or two: a few rounds settle it
            if len(ids) <= self.max_length:
                return ids
            try:
                counts = fit(len(ids) - sum(counts), counts, self.max_length, policy)
            except OverBudget:
                raise InputError(f"{what}: the template alone is over the limit of {self.max_length} tokens") from None
            passages = [self.cut_to_tokens(p, n) for p, n in zip(passages, counts)]
            ids = self.encode_source(build(passages))
        raise InputError(f"{what} could not be fitted into {self.max_length} tokens")

    def first_step_logits(self, sources: Sequence[Sequence[int]], token_ids: Sequence[int]) -> np.ndarray:
        """The decoder's first-step logits (from its start token) for `token_ids`: [len(sources), len(token_ids)]."""
        import numpy as np

        torch = self._torch
        out = np.zeros((len(sources), len(token_ids)), dtype=np.float32)
        wanted = torch.tensor(list(token_ids), dtype=torch.long, device=self.device)
        batches = length_sorted_batches(
            [len(s) for s in sources], self.options.batch_size, self.options.max_tokens_per_batch
        )
        with torch.inference_mode():
            for batch in batches:
                check_cancelled()
                width = max(len(sources[i]) for i in batch)
                input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):  # right padding: the encoder is bidirectional and masked
                    input_ids[row, : len(sources[i])] = torch.tensor(list(sources[i]), dtype=torch.long)
                    mask[row, : len(sources[i])] = 1
                decoder = torch.full((len(batch), 1), self.decoder_start_id, dtype=torch.long)
                logits = self.model(
                    input_ids=input_ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    decoder_input_ids=decoder.to(self.device),
                    use_cache=False,
                ).logits
                self.stats["forward_passes"] += 1
                self.stats["prompt_tokens"] += int(mask.sum())
                picked = logits[:, 0, :].float().index_select(-1, wanted).cpu().numpy()
                for row, i in enumerate(batch):
                    out[i] = picked[row]
        return out

    def generate_fused(self, windows: Sequence[Sequence[Sequence[int]]], max_length: int) -> list[list[int]]:
        """Fusion-in-Decoder greedy decoding (LiT5, FiD): each window's sources are encoded one by one, their
        encoder states joined into one sequence the decoder reads, and `max_length` decoder tokens at most
        (the start token included, as `generate(max_length=...)` counts) are generated. Returns the generated
        ids per window, without the start token."""
        from transformers.modeling_outputs import BaseModelOutput

        torch = self._torch
        outputs: list[list[int]] = []
        with torch.inference_mode():
            for sources in windows:
                width = max(len(s) for s in sources)
                input_ids = torch.full((len(sources), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(sources), width), dtype=torch.long)
                for row, source in enumerate(sources):
                    input_ids[row, : len(source)] = torch.tensor(list(source), dtype=torch.long)
                    mask[row, : len(source)] = 1
                states = self.model.get_encoder()(
                    input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)
                ).last_hidden_state
                fused = BaseModelOutput(last_hidden_state=states.reshape(1, -1, states.size(-1)))
                generated = self.model.generate(
                    encoder_outputs=fused,
                    attention_mask=mask.reshape(1, -1).to(self.device),
                    max_length=max_length,
                    do_sample=False,
                    num_beams=1,
                )
                self.stats["forward_passes"] += 1
                self.stats["prompt_tokens"] += int(mask.sum())
                outputs.append([int(t) for t in generated[0, 1:]])
        return outputs

    def multi_view_logits(self, sources: Sequence[Sequence[int]], views: int) -> np.ndarray:
        """MVP's anchor-guided scores for one query's sources: each source encoded alone, the encoder states
        of its first `views` tokens (its view markers) kept; for each view, the decoder takes one step from
        the pad token's embedding over that view's states of every source, and a source's logit is the dot
        product of the step's output with its state; the views' logits averaged. Shape [len(sources)]."""
        import numpy as np

        torch = self._torch
        if not sources:
            return np.zeros(0, dtype=np.float32)
        if any(len(s) < views for s in sources):
            raise InputError(f"every source needs its {views} view markers first; one has fewer tokens")
        states = []
        batches = length_sorted_batches(
            [len(s) for s in sources], self.options.batch_size, self.options.max_tokens_per_batch
        )
        order = [i for batch in batches for i in batch]
        with torch.inference_mode():
            encoder = self.model.get_encoder()
            for batch in batches:
                check_cancelled()
                width = max(len(sources[i]) for i in batch)
                input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    input_ids[row, : len(sources[i])] = torch.tensor(list(sources[i]), dtype=torch.long)
                    mask[row, : len(sources[i])] = 1
                hidden = encoder(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device))
                states.append(hidden.last_hidden_state[:, :views, :])
                self.stats["forward_passes"] += 1
                self.stats["prompt_tokens"] += int(mask.sum())
            in_batch_order = torch.cat(states)
            by_source = torch.empty_like(in_batch_order)  # [sources, views, hidden], back in input order
            by_source[torch.tensor(order)] = in_batch_order
            passages = by_source.permute(1, 0, 2)  # [views, sources, hidden]
            start = self.model.get_input_embeddings().weight[self.pad_id]
            step = self.model.get_decoder()(
                inputs_embeds=start.view(1, 1, -1).expand(views, 1, -1),
                encoder_hidden_states=passages,
                encoder_attention_mask=torch.ones(passages.shape[:2], dtype=torch.long, device=passages.device),
                use_cache=False,
            ).last_hidden_state  # [views, 1, hidden]
            self.stats["decoder_steps"] += 1
            logits = torch.einsum("vqh,vph->vqp", step, passages)[:, 0, :].mean(dim=0)
        return logits.float().cpu().numpy()

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def encode_cut(self, text: str, max_tokens: int) -> list[int]:
        """A source's ids cut to `max_tokens` from its end (end-of-sequence kept), as a tokenizer's
        truncation=True does; with `truncate=False` an over-long source is an error."""
        ids = self.encode_source(text)
        if len(ids) > max_tokens and not self.options.truncate:
            raise InputError(f"a source has {len(ids)} tokens, over the limit of {max_tokens}")
        return self.tokenizer(text, truncation=True, max_length=max_tokens)["input_ids"]
