"""Shared runtime concerns of the transformers backends: device and dtype choice, threads,
length-sorted batching, and loading with errors that say what to install."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rankwise.backends.options import TransformersOptions
from rankwise.cancellation import check_cancelled
from rankwise.errors import ModelNotAvailableError, OptionError
from rankwise.models.resolve import ModelLocation
from rankwise.verbosity import quiet_loading

if TYPE_CHECKING:
    import torch

T = TypeVar("T")


def select_device(requested: str | None) -> str:
    import torch

    if requested:
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def select_dtype(requested: str | None, device: str) -> torch.dtype:
    import torch

    if requested:
        dtype = getattr(torch, requested, None)
        if not isinstance(dtype, torch.dtype):
            raise OptionError(f"unknown dtype {requested!r} (try float32, bfloat16, float16)")
        return dtype
    # fp32 on CPU: bf16 matmuls are slower than fp32 on most CPUs without AMX.
    return torch.float32 if device == "cpu" else torch.bfloat16


def apply_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def length_sorted_batches(lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Group indices into batches of similar length (longest first) so padding stays small, bounded by
    both a count and a padded-token budget."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        width = lengths[current[0]] if current else lengths[index]
        if current and (len(current) >= batch_size or width * (len(current) + 1) > max_tokens):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def load_pretrained(loader: Callable[..., T], location: ModelLocation, **kwargs: Any) -> T:
    """Call a `from_pretrained`, turning a missing offline model into an error that says what to install."""
    if not location.is_local and os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        kwargs.setdefault("local_files_only", True)  # offline set after huggingface_hub was imported: no retries
    try:
        with quiet_loading():
            return loader(location.path, **kwargs)
    except OSError as e:
        if location.spec is not None and location.spec.local is not None:
            hint = f"; for offline use install {location.spec.local.describe()}"
        elif not location.is_local:
            from huggingface_hub.constants import HF_HUB_CACHE

            raise ModelNotAvailableError(
                f"cannot load model {location.label!r}: {location.path} is not in the Hugging Face cache "
                f"({HF_HUB_CACHE}) and the hub cannot be reached; fetch it on a machine with a network with "
                f"`hf download {location.path}` and copy that cache here (or point HF_HOME at it)"
            ) from None
        else:
            hint = ""
        raise ModelNotAvailableError(f"cannot load model {location.label!r} from {location.path}: {e}{hint}") from None


def checkpoint_file(location: ModelLocation, name: str, what: str = "checkpoint") -> Path:
    """A file of the checkpoint, from its folder or the Hugging Face cache (the hub when online)."""
    if location.is_local:
        path = Path(location.path) / name
    else:
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(location.path, name))
    if not path.is_file():
        raise ModelNotAvailableError(f"{location.label}: the {what} has no {name}")
    return path


def left_padded(
    rows: Sequence[Sequence[int]], pad_id: int, device: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token rows left-padded into one batch, with the attention mask and explicit position ids, so that a
    padded row computes exactly what it would alone."""
    import torch

    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return input_ids.to(device), mask.to(device), positions.to(device)


def refuse_remote_code(location: ModelLocation, trusted: bool) -> dict[str, Any]:
    """A folder whose config maps classes to its own Python files (`auto_map`) runs that code when loaded;
    it is refused unless the user passed trust_remote_code=True. The keyword to pass on otherwise."""
    config = location.read_json("config.json") or {}
    if config.get("auto_map") and not trusted:
        classes = ", ".join(sorted(set(str(v) for v in config["auto_map"].values())))
        raise ModelNotAvailableError(
            f"model {location.label!r} needs code from its own repository ({classes}); rankwise runs it only "
            "with trust_remote_code=True (-O trust_remote_code=true), which you must pass yourself after "
            "reading that code"
        )
    return {"trust_remote_code": True} if trusted else {}


def load_tokenizer_and_model(
    model_class: Any,
    location: ModelLocation,
    options: TransformersOptions,
    repair: Callable[[Any, ModelLocation], None] | None = None,
) -> tuple[Any, Any, str]:
    """Tokenizer and model in eval mode on the chosen device and dtype, with the thread count applied.
    `repair` fixes the loaded weights in place before adapters and quantization (a FiD checkpoint's encoder)."""
    from transformers import AutoTokenizer

    apply_threads(options.threads)
    device = select_device(options.device)
    location, adapters = adapter_checkpoint(location)
    remote_code = refuse_remote_code(location, options.trust_remote_code)
    tokenizer = load_pretrained(AutoTokenizer.from_pretrained, adapters.get("tokenizer", location), **remote_code)
    model = load_pretrained(
        model_class.from_pretrained, location, dtype=select_dtype(options.dtype, device), **remote_code
    )
    if repair is not None:
        repair(model, location)
    # an adapter checkpoint's own weights, a registered model's adapter, then the user's
    for adapter in (adapters.get("weights"), location.adapter, options.adapter):
        if adapter:
            model = merged_adapter(model, adapter)
    if options.adapters:  # kept apart, switched per call (`serve --adapter`)
        if options.quantize:
            raise OptionError(
                "quantize and adapters do not go together: int8 layers cannot carry unmerged LoRA adapters; "
                "serve the adapters over the float model, or merge one (adapter=) and quantize that"
            )
        from rankwise.backends.adapters import attach_adapters

        model = attach_adapters(model, options.adapters)
    model.to(device).eval()
    if options.quantize:
        model = dynamic_int8(model, options.quantize, device)
    stop_between_layers(model)
    return tokenizer, model, device


def stop_between_layers(model: Any) -> None:
    """Check for cancellation before each layer of the model's layer stacks (every `ModuleList` child), so
    abandoned work stops within one layer, not at the end of a forward pass of a large batch or of a whole
    generation (a 16-pair batch of SmolLM2 is one 2 s forward pass on two cores)."""
    import torch

    def check(module: Any, inputs: Any) -> None:
        check_cancelled()

    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList):
            for layer in module:
                layer.register_forward_pre_hook(check)


def dynamic_int8(model: Any, scheme: str, device: str) -> Any:
    """torch dynamic int8 quantization of every Linear layer (weights int8, activations quantized on the
    fly), for encoders, cross-encoders and causal LMs alike."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    if scheme != "int8":
        raise OptionError(f"quantize must be 'int8' or None, got {scheme!r}")
    if device != "cpu":
        raise OptionError("int8 dynamic quantization runs on the CPU only")
    # In place: the default deep copy held the fp32 and int8 models at once (5.9 GB peak for Qwen 0.5B).
    return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


def adapter_checkpoint(location: ModelLocation) -> tuple[ModelLocation, dict[str, Any]]:
    """A checkpoint published as a LoRA adapter (adapter_config.json and no config.json, e.g. Rank-R1) loads
    its base model, named in its adapter config, with the adapter merged in; the adapter's own tokenizer is
    used when it ships one. Returns the location to load the weights from and {"weights": adapter,
    "tokenizer": location} for such a checkpoint, else the location unchanged and {}."""
    if location.read_json("config.json") is not None:
        return location, {}
    config = location.read_json("adapter_config.json")
    if config is None or not config.get("base_model_name_or_path"):
        return location, {}
    import dataclasses

    base = ModelLocation(path=config["base_model_name_or_path"])
    tokenizer = location if location.read_json("tokenizer_config.json") is not None else base
    return dataclasses.replace(location, path=base.path), {"weights": location.path, "tokenizer": tokenizer}


def merged_adapter(model: Any, path: str | Path) -> Any:
    """The model with a saved LoRA adapter (peft) merged into its weights, so it costs nothing per query; a
    local folder or a Hugging Face id."""
    local = Path(path).is_dir()
    if (local or str(path).startswith((".", "/", "~"))) and not (Path(path) / "adapter_config.json").is_file():
        raise ModelNotAvailableError(f"{path}: no LoRA adapter (adapter_config.json) there")
    return import_peft().PeftModel.from_pretrained(model, str(path)).merge_and_unload()


def import_peft() -> Any:
    try:
        import peft
    except ImportError:
        raise ModelNotAvailableError("LoRA adapters need peft: pip install 'rankwise[train]'") from None
    return peft


WEIGHT_FILES = (
    "model.safetensors.index.json",
    "model.safetensors",
    "pytorch_model.bin.index.json",
    "pytorch_model.bin",
)


def checkpoint_tensors(
    location: ModelLocation, what: str = "checkpoint", keep: Callable[[str], bool] | None = None
) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor of the checkpoint (those whose name `keep` accepts), from its safetensors or PyTorch files
    (sharded or not); a safetensors tensor not kept is never read."""
    import torch

    for name in WEIGHT_FILES:
        index = location.read_json(name) if name.endswith(".json") else None
        if name.endswith(".json") and index is None:
            continue
        try:
            files = sorted(set(index["weight_map"].values())) if index is not None else [name]
            paths = [checkpoint_file(location, file, what) for file in files]
        except ModelNotAvailableError:
            continue
        except Exception as e:  # a hub id whose file is not in the cache offline
            if index is not None:
                raise ModelNotAvailableError(f"{location.label}: cannot fetch its weights: {e}") from None
            continue
        for path in paths:
            if path.suffix == ".safetensors":
                from safetensors import safe_open

                with safe_open(str(path), framework="pt") as handle:
                    for key in handle.keys():  # noqa: SIM118  (safe_open is not iterable)
                        if keep is None or keep(key):
                            yield key, handle.get_tensor(key)
            else:
                tensors = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
                yield from ((k, v) for k, v in tensors.items() if keep is None or keep(k))
        return
    raise ModelNotAvailableError(f"{location.label}: no weights ({', '.join(WEIGHT_FILES[1::2])}) in the checkpoint")
