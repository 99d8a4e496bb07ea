"""Forward indexes at corpus scale (issue 42 item 5), simulated: no corpus of millions of passages is on this
machine, so indexes are written from synthetic vectors (seeded normal, MiniLM's 384 dimensions; token
vectors at ColBERT's 128) through rankwise's own writer, and read through its own lookup.

    python benchmarks/forward_scale.py --sizes 1000000,5000000 --out /tmp/forward-scale [--keep]

Per index: build throughput (passages/s, synthetic vectors, so this is the writer's cost, not encoding),
disk bytes per passage, the time to open it, the process's RSS after opening and after the lookups, and
the latency of looking up 100 random candidates (p50/p99 over --trials), with a cold page cache (the index's
files dropped from it with posix_fadvise before each lookup) and a warm one (every file read once first).
Each configuration runs in its own process."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import in_fresh_process  # noqa: E402


def rss_mib(field: str = "VmRSS") -> float:
    """The process's resident memory (VmRSS), or its part that is its own (RssAnon) or mapped file pages the
    kernel may drop (RssFile: the index's pages lookups touched)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def build(folder: str, size: int, dtype: str, dim: int, tokens: int, chunk: int) -> dict:
    import numpy as np

    from rankwise.io.forward_index import ForwardIndexWriter, IndexSettings, text_digest

    settings = IndexSettings(encoder={"model": "synthetic", "dim": dim}, dim=dim, dtype=dtype,
                             token_vectors=tokens > 0, chunk_size=chunk)
    writer = ForwardIndexWriter(folder, settings, f"synthetic-{size}", size)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for offset in range(0, size, chunk):
        n = min(chunk, size - offset)
        docids = [f"p{i}" for i in range(offset, offset + n)]
        digests = [text_digest(f"passage {i}") for i in range(offset, offset + n)]
        pooled = rng.standard_normal((n, dim), dtype=np.float32)
        token_rows = None
        if tokens:
            flat = rng.standard_normal((n * tokens, dim), dtype=np.float32)
            token_rows = np.split(flat, n)
        writer.write_chunk(docids, digests, pooled, token_rows)
    writer.finish()
    seconds = time.perf_counter() - start
    disk = sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file())
    return {"build_per_second": size / seconds, "build_seconds": seconds, "bytes_per_passage": disk / size,
            "disk_gib": disk / 2**30}


def drop_from_page_cache(folder: Path) -> None:
    for path in folder.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def read_whole(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass


def lookups(folder: str, size: int, tokens: bool, trials: int, candidates: int) -> dict:
    import numpy as np

    from rankwise.io.forward_index import ForwardIndex

    path = Path(folder)
    drop_from_page_cache(path)
    before = rss_mib()
    start = time.perf_counter()
    index = ForwardIndex(path)
    opened = time.perf_counter() - start
    after_open = rss_mib()
    rng = np.random.default_rng(1)
    results = {}
    for cache in ("cold", "warm"):
        if cache == "warm":
            read_whole(path)
        times = []
        for _ in range(trials):
            ids = rng.choice(size, candidates, replace=False)
            docids, texts = [f"p{i}" for i in ids], [f"passage {i}" for i in ids]
            if cache == "cold":
                drop_from_page_cache(path)
            start = time.perf_counter()
            found = index.lookup(docids, texts, with_tokens=tokens)
            times.append(time.perf_counter() - start)
            assert not found.missing, "a synthetic passage was not found"
        results[cache] = (np.percentile(times, 50) * 1000, np.percentile(times, 99) * 1000)
        if cache == "cold":
            results["rss_after_cold"] = rss_mib()
    return {"open_seconds": opened, "rss_before": before, "rss_after_open": after_open,
            "rss_after_lookups": rss_mib(), "anon_after_lookups": rss_mib("RssAnon"),
            "file_after_lookups": rss_mib("RssFile"), **results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000000,5000000")
    parser.add_argument("--configs", default="pooled-float16,pooled-int8,tokens-int8",
                        help="pooled-DTYPE (384 dims) and tokens-DTYPE (128 dims, --tokens per passage)")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--token-sizes", default="1000000", help="sizes that also get token-vector indexes")
    parser.add_argument("--chunk", type=int, default=16384)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("/tmp/forward-scale"))
    parser.add_argument("--keep", action="store_true", help="keep the indexes (tens of GB)")
    args = parser.parse_args()

    console = Console(width=180)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        for config in args.configs.split(","):
            kind, dtype = config.split("-")
            if kind == "tokens" and str(size) not in args.token_sizes.split(","):
                continue
            dim, tokens = (384, 0) if kind == "pooled" else (128, args.tokens)
            folder = args.out / f"{config}-{size}"
            shutil.rmtree(folder, ignore_errors=True)
            console.print(f"building {folder} ...")
            built = in_fresh_process(build, str(folder), size, dtype, dim, tokens, args.chunk)
            read = in_fresh_process(lookups, str(folder), size, tokens > 0, args.trials, args.candidates)
            rows.append((size, config, built, read))
            console.print(f"  {built} {read}", highlight=False)
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
    table = Table(title=f"forward indexes of synthetic vectors, {args.candidates} random candidates per lookup, "
                        f"{args.trials} lookups; RSS of the reading process")
    for column in ("passages", "index", "build passages/s", "disk GiB", "bytes/passage", "open ms",
                   "RSS open MiB", "RSS after lookups MiB (own + file pages)", "cold p50/p99 ms", "warm p50/p99 ms"):
        table.add_column(column, justify="right")
    for size, config, built, read in rows:
        table.add_row(f"{size:,}", config, f"{built['build_per_second']:,.0f}", f"{built['disk_gib']:.2f}",
                      f"{built['bytes_per_passage']:.0f}", f"{read['open_seconds'] * 1000:.1f}",
                      f"{read['rss_after_open']:.0f}",
                      f"{read['rss_after_lookups']:.0f} ({read['anon_after_lookups']:.0f} + {read['file_after_lookups']:.0f})",
                      "{:.1f} / {:.1f}".format(*read["cold"]), "{:.2f} / {:.2f}".format(*read["warm"]))
    console.print(table)


if __name__ == "__main__":
    main()
