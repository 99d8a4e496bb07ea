"""A forward index on disk: each passage's embedding (and, optionally, its MaxSim token vectors) stored by
docid, so rerankers look passage vectors up instead of encoding them (Fast-Forward indexes, Leonhardt et
al., WWW 2022).

A folder holds `manifest.json` and fixed-size chunks of memory-mapped `.npy` arrays. The manifest lists
only finished chunks and is replaced atomically after each one, so a killed indexing job continues from
its last finished chunk and ends with the same files as an uninterrupted one. Each row also keeps a digest
of the passage text it was encoded from: a candidate whose text differs from the indexed one is encoded
again rather than scored with a stale vector.

Storage types: float32 (exact), float16, and int8 with one float32 scale per vector (symmetric, the
largest component maps to 127).

Nothing is read whole at open, so an index of millions of passages opens in milliseconds and its memory
grows only with the pages lookups touch: each chunk keeps its docids' 64-bit hashes and its texts' digests
as arrays (`keys`, `digests`), and a finished index one sorted table of every key and where its row is
(`lookup.keys.npy`, `lookup.rows.npy`), searched by bisection on the memory-mapped arrays. A partial index
(being built or resumed) sorts its finished chunks' keys in memory at open instead. Two docids whose hashes
collide cannot both be found; the text digest still guards every hit, so a collision costs an encode, never
a wrong vector. (`docids.json` per chunk keeps the docid strings, for people and for indexes written before
the key arrays, whose keys are derived from it at open.)"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rankwise.errors import InputError

if TYPE_CHECKING:
    import numpy as np

FORMAT = "rankwise-forward-index/1"
MANIFEST = "manifest.json"
DTYPES = ("float32", "float16", "int8")
FORWARD_FOLDER = "forward"  # where `rankwise index --encode` puts it, beside the BM25 files


def text_digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def docid_key(docid: str) -> int:
    """A docid's 64-bit key in the lookup tables."""
    return int.from_bytes(hashlib.blake2b(docid.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def _keys(docids: Sequence[str]) -> np.ndarray:
    import numpy as np

    return np.fromiter((docid_key(d) for d in docids), dtype=np.uint64, count=len(docids))


def _digest_values(digests: Sequence[str]) -> np.ndarray:
    import numpy as np

    return np.fromiter((int(d, 16) for d in digests), dtype=np.uint64, count=len(digests))


def sorted_lookup(chunk_keys: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every chunk's keys sorted into one table, with each key's row as chunk << 32 | row; a docid indexed
    twice keeps its last row (as a later chunk overrides an earlier one)."""
    import numpy as np

    if not chunk_keys:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    keys = np.concatenate(chunk_keys)
    rows = np.concatenate(
        [(np.int64(n) << np.int64(32)) + np.arange(len(k), dtype=np.int64) for n, k in enumerate(chunk_keys)]
    )
    order = np.argsort(keys, kind="stable")
    keys, rows = keys[order], rows[order]
    last = np.ones(len(keys), dtype=bool)
    last[:-1] = keys[1:] != keys[:-1]
    return keys[last], rows[last]


def corpus_fingerprint(docids: Sequence[str], digests: Sequence[str]) -> str:
    """Identifies the corpus an index was started on, so --resume never continues over another one."""
    h = hashlib.sha256()
    for docid, digest in zip(docids, digests):
        h.update(docid.encode("utf-8", "surrogatepass") + b"\0" + digest.encode() + b"\n")
    return h.hexdigest()


def _quantize(vectors: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray | None]:
    import numpy as np

    if dtype == "float32":
        return vectors.astype(np.float32), None
    if dtype == "float16":
        return vectors.astype(np.float16), None
    scale = np.abs(vectors).max(axis=1).astype(np.float32) / 127.0
    safe = np.where(scale > 0, scale, 1.0)
    return np.clip(np.rint(vectors / safe[:, None]), -127, 127).astype(np.int8), scale


def _dequantize(stored: np.ndarray, scale: np.ndarray | None) -> np.ndarray:
    import numpy as np

    out = np.asarray(stored, dtype=np.float32)
    return out * scale[:, None] if scale is not None else out


def _mapped(path: Path) -> np.ndarray:
    """`path` memory-mapped read-only, the kernel told that reads will be random (lookups touch a row here
    and there: read-ahead would pull in pages nobody asked for)."""
    import mmap

    import numpy as np

    array = np.load(path, mmap_mode="r")
    handle = getattr(array, "_mmap", None)
    if handle is not None and hasattr(handle, "madvise"):
        handle.madvise(mmap.MADV_RANDOM)
    return array


def _save(path: Path, array: np.ndarray) -> None:
    import numpy as np

    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)


@dataclass(frozen=True)
class IndexSettings:
    """What an index was built with; `encoder` is the encoder's own description (model, pooling, length
    limit, passage prefix), compared with the reranker's before any lookup."""

    encoder: dict[str, Any]
    dim: int
    dtype: str = "float32"
    token_vectors: bool = False
    chunk_size: int = 1024

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise InputError(f"index dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")


class ForwardIndexWriter:
    """Writes an index chunk by chunk; on resume, continues after the manifest's finished chunks."""

    def __init__(
        self, folder: str | Path, settings: IndexSettings, fingerprint: str, documents: int, resume: bool = False
    ):
        self.folder = Path(folder)
        self.settings = settings
        header = {
            "format": FORMAT,
            "encoder": settings.encoder,
            "dim": settings.dim,
            "dtype": settings.dtype,
            "token_vectors": settings.token_vectors,
            "chunk_size": settings.chunk_size,
            "corpus": {"documents": documents, "fingerprint": fingerprint},
        }
        if (self.folder / MANIFEST).is_file():
            manifest = _read_manifest(self.folder)
            if not resume:
                state = "a finished" if manifest.get("complete") else "a partial"
                raise InputError(
                    f"{state} forward index is already here; pass --resume to continue it, or choose another --out",
                    source=str(self.folder),
                )
            differing = [k for k in header if manifest.get(k) != header[k]]
            if differing:
                raise InputError(
                    "--resume over an index built differently ("
                    + ", ".join(f"{k}: {manifest.get(k)!r} there, {header[k]!r} now" for k in differing)
                    + ")",
                    source=str(self.folder),
                )
            self.manifest = manifest
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.manifest = {**header, "chunks": [], "complete": False}
            self._commit()

    @property
    def finished_rows(self) -> int:
        return sum(chunk["rows"] for chunk in self.manifest["chunks"])

    def write_chunk(
        self,
        docids: Sequence[str],
        digests: Sequence[str],
        pooled: np.ndarray,
        tokens: Sequence[np.ndarray] | None = None,
    ) -> None:
        import numpy as np

        name = f"chunk-{len(self.manifest['chunks']):05d}"
        stored, scale = _quantize(pooled, self.settings.dtype)
        _save(self.folder / f"{name}.pooled.npy", stored)
        if scale is not None:
            _save(self.folder / f"{name}.pooled_scale.npy", scale)
        if self.settings.token_vectors:
            if tokens is None:
                raise ValueError("this index stores token vectors: give them for every chunk")
            lengths = [len(t) for t in tokens]
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            flat = (
                np.concatenate([t for t in tokens if len(t)])
                if any(lengths)
                else np.zeros((0, self.settings.dim), dtype=np.float32)
            )
            stored_tokens, token_scale = _quantize(flat, self.settings.dtype)
            _save(self.folder / f"{name}.tokens.npy", stored_tokens)
            _save(self.folder / f"{name}.offsets.npy", offsets)
            if token_scale is not None:
                _save(self.folder / f"{name}.tokens_scale.npy", token_scale)
        (self.folder / f"{name}.docids.json").write_text(
            json.dumps({"docids": list(docids), "digests": list(digests)}, ensure_ascii=False)
        )
        _save(self.folder / f"{name}.keys.npy", _keys(docids))
        _save(self.folder / f"{name}.digests.npy", _digest_values(digests))
        self.manifest["chunks"].append({"name": name, "rows": len(docids)})
        self._commit()

    def finish(self) -> None:
        """Write the sorted lookup table over every chunk, then mark the index complete."""
        import numpy as np

        chunk_keys = [np.load(self.folder / f"{c['name']}.keys.npy") for c in self.manifest["chunks"]]
        keys, rows = sorted_lookup(chunk_keys)
        _save(self.folder / "lookup.keys.npy", keys)
        _save(self.folder / "lookup.rows.npy", rows)
        self.manifest["complete"] = True
        self.manifest["lookup"] = {"keys": "lookup.keys.npy", "rows": "lookup.rows.npy", "entries": len(keys)}
        self._commit()

    def _commit(self) -> None:
        temporary = self.folder / (MANIFEST + ".tmp")
        temporary.write_text(json.dumps(self.manifest, indent=1, ensure_ascii=False))
        os.replace(temporary, self.folder / MANIFEST)


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            "not a forward index (no manifest.json; build one with `rankwise index --encode`)", source=str(folder)
        ) from None
    except json.JSONDecodeError as e:
        raise InputError(f"malformed manifest: {e}", source=str(path)) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"not a {FORMAT} manifest", source=str(path))
    return manifest


@dataclass
class Lookup:
    """Rows found in the index for a list of candidates; `missing` are positions to encode instead."""

    pooled: np.ndarray  # [len(candidates), dim], zero rows where missing
    tokens: list[np.ndarray | None]  # per candidate, None where missing or not stored
    missing: list[int]
    stale_positions: list[int]  # of the missing: indexed under the docid, but from another text


class ForwardIndex:
    """A finished (or partial: its finished chunks) index, memory-mapped."""

    def __init__(self, folder: str | Path):
        import numpy as np

        folder = Path(folder)
        if not (folder / MANIFEST).is_file() and (folder / FORWARD_FOLDER / MANIFEST).is_file():
            folder = folder / FORWARD_FOLDER  # the --out folder of `rankwise index`
        self.folder = folder
        self.manifest = _read_manifest(folder)
        self.encoder: dict[str, Any] = self.manifest["encoder"]
        self.dtype: str = self.manifest["dtype"]
        self.token_vectors: bool = bool(self.manifest["token_vectors"])
        self._chunks: list[dict[str, Any]] = []
        chunk_keys = []
        for chunk in self.manifest["chunks"]:
            name = chunk["name"]
            try:
                arrays = {"pooled": _mapped(folder / f"{name}.pooled.npy")}
                for part in ("pooled_scale", "tokens", "offsets", "tokens_scale", "keys", "digests"):
                    path = folder / f"{name}.{part}.npy"
                    if path.is_file():
                        arrays[part] = _mapped(path)
                if "keys" not in arrays or "digests" not in arrays:  # written before the key arrays
                    ids = json.loads((folder / f"{name}.docids.json").read_text(encoding="utf-8"))
                    arrays["keys"], arrays["digests"] = _keys(ids["docids"]), _digest_values(ids["digests"])
            except (OSError, ValueError, KeyError) as e:
                raise InputError(f"chunk {name} is unreadable: {e}", source=str(folder)) from None
            if len(arrays["keys"]) != chunk["rows"] or arrays["pooled"].shape[0] != chunk["rows"]:
                raise InputError(
                    f"chunk {name} holds {arrays['pooled'].shape[0]} rows, the manifest says {chunk['rows']}",
                    source=str(folder),
                )
            self._chunks.append(arrays)
            chunk_keys.append(arrays["keys"])
        table = self.manifest.get("lookup")
        if table and self.complete:
            try:
                self._keys = _mapped(folder / table["keys"])
                self._rows = _mapped(folder / table["rows"])
            except (OSError, ValueError) as e:
                raise InputError(f"the lookup table is unreadable: {e}", source=str(folder)) from None
        else:  # partial, or finished before lookup tables: sorted in memory
            self._keys, self._rows = sorted_lookup([np.asarray(k) for k in chunk_keys])

    def __len__(self) -> int:
        return len(self._keys)

    def _locate(self, docids: Sequence[str]) -> list[tuple[int, int] | None]:
        """Each docid's (chunk, row), or None, by bisection on the sorted key table."""
        import numpy as np

        if not len(self._keys):
            return [None] * len(docids)
        wanted = _keys(docids)
        at = np.minimum(np.searchsorted(self._keys, wanted), len(self._keys) - 1)
        found = np.asarray(self._keys[at]) == wanted
        rows = np.asarray(self._rows[at])
        return [(int(r >> 32), int(r & 0xFFFFFFFF)) if ok else None for ok, r in zip(found, rows)]

    @property
    def complete(self) -> bool:
        return bool(self.manifest.get("complete"))

    def bytes_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())

    def check_encoder(self, encoder: dict[str, Any], needs_tokens: bool = False) -> None:
        """Refuse an index built by another encoder (or without the token vectors a method needs)."""
        differing = [k for k in sorted(set(encoder) | set(self.encoder)) if encoder.get(k) != self.encoder.get(k)]
        if differing:
            raise InputError(
                "this forward index was built by another encoder ("
                + ", ".join(f"{k}: {self.encoder.get(k)!r} in the index, {encoder.get(k)!r} here" for k in differing)
                + "); rebuild it with `rankwise index --encode` for this model",
                source=str(self.folder),
            )
        if needs_tokens and not self.token_vectors:
            raise InputError(
                "this method scores token vectors, and this index has none; rebuild it with "
                "`rankwise index --encode ... --token-vectors`",
                source=str(self.folder),
            )

    def lookup(self, docids: Sequence[str], texts: Sequence[str], with_tokens: bool = False) -> Lookup:
        import numpy as np

        dim = int(self.manifest["dim"])
        pooled = np.zeros((len(docids), dim), dtype=np.float32)
        tokens: list[np.ndarray | None] = [None] * len(docids)
        missing: list[int] = []
        stale: list[int] = []
        by_chunk: dict[int, tuple[list[int], list[int]]] = {}
        for i, (where, text) in enumerate(zip(self._locate(docids), texts)):
            if where is None:
                missing.append(i)
            elif int(self._chunks[where[0]]["digests"][where[1]]) != int(text_digest(text), 16):
                missing.append(i)
                stale.append(i)
            else:
                positions, rows = by_chunk.setdefault(where[0], ([], []))
                positions.append(i)
                rows.append(where[1])
        # One fancy-indexed read per chunk: a memory-mapped array read row by row costs a Python call each.
        for number, (positions, rows) in by_chunk.items():
            chunk = self._chunks[number]
            scale = chunk.get("pooled_scale")
            pooled[positions] = _dequantize(chunk["pooled"][rows], None if scale is None else scale[rows])
            if with_tokens:
                # All the chunk's wanted token rows in one read and one dequantization, then split per passage.
                offsets = np.asarray(chunk["offsets"])
                row_index = np.asarray(rows)
                starts, lengths = offsets[row_index], offsets[row_index + 1] - offsets[row_index]
                ends = np.cumsum(lengths)
                flat = np.arange(int(ends[-1])) + np.repeat(starts - (ends - lengths), lengths)
                token_scale = chunk.get("tokens_scale")
                vectors = _dequantize(chunk["tokens"][flat], None if token_scale is None else token_scale[flat])
                for i, part in zip(positions, np.split(vectors, ends[:-1])):
                    tokens[i] = part
        return Lookup(pooled=pooled, tokens=tokens, missing=missing, stale_positions=stale)
