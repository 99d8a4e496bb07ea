"""The keywords of `Reranker.load` that wrap or shape the loaded method rather than configure it: the result
cache, long documents, a calibration, and a preset. Declared once here; `Reranker.load`, the registry and the
CLI's option help read this declaration."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rankwise.options import option, validate_options


@dataclass(frozen=True)
class WrapperOptions:
    cache: bool | str | Path = option(
        False, help="keep scores on disk so that a query and passage are never scored twice (True or a folder)"
    )
    cache_size_limit: int | None = option(None, minimum=1, help="the result cache's size in bytes (default 1 GiB)")
    long_documents: Literal["maxp", "firstp", "sump"] | None = option(
        None, help="split documents into passages and score a document by its passages' max, first or sum"
    )
    passage_tokens: int = option(128, minimum=1, help="with long_documents: model tokens per passage")
    passage_stride: int | None = option(
        None, minimum=1, help="with long_documents: tokens between passage starts (default half passage_tokens)"
    )
    calibration: bool | str | Path | None = option(
        None, help="a calibration file from `rankwise calibrate` (True: a registered model's own)"
    )


# A preset names a method and its options (rerankers/presets.py); it travels with the method options, since a
# member of a spec may name its own.
PRESET_KEYWORD = "preset"
WRAPPER_KEYWORDS = frozenset(f.name for f in dataclasses.fields(WrapperOptions))


def split_wrapper_options(options: dict[str, Any]) -> tuple[WrapperOptions, dict[str, Any]]:
    """The wrapper keywords among `options`, checked, and the rest (method and runtime options)."""
    given = {name: options[name] for name in WRAPPER_KEYWORDS if name in options}
    rest = {name: value for name, value in options.items() if name not in WRAPPER_KEYWORDS}
    return validate_options(WrapperOptions, "Reranker.load", given), rest
