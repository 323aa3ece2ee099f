"""Writes the simulation into the landing zone as gzip JSON lines, one folder per UTC hour (and the
daily ad-spend CSVs, ad_spend.py).

A pipeline of threads (numpy, Arrow and isal release the GIL): one simulates blocks of sessions,
one renders their JSON lines, the main thread gathers each hour's lines in time order in chunks of
CHUNK_LINES (small buffers that are reused: touching fresh memory is the slowest thing a VM does)
and adds the dirty data, and one compresses (isal, level 1). Each file is written atomically
(temp name, then rename) so a sensor never sees half a file. File names depend only on seed and
hour, gzip headers carry no timestamp: re-running a config rewrites byte-identical files.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pyarrow as pa
from isal import isal_zlib
from tqdm import tqdm

from shopper_assets.generator.ad_spend import AdSpendWriter
from shopper_assets.generator.config import GenerateSummary, GeneratorConfig
from shopper_assets.generator.dirty import DirtyInjector, HourPlan, Render
from shopper_assets.generator.encode import Encoder
from shopper_assets.generator.simulate import build_world, day_events, iter_hours

MAX_LINES_PER_FILE = 1_000_000
CHUNK_LINES = 50_000
COMPRESS_LEVEL = 1
MAX_QUEUED_CHUNKS = 4  # rendered chunks waiting for the compressor: bounds memory


def hour_dir(data_dir: pathlib.Path, hour_start: datetime.datetime) -> pathlib.Path:
    return pathlib.Path(data_dir) / "landing" / "events" / f"date={hour_start:%Y-%m-%d}" / f"hour={hour_start:%H}"


def file_stem(seed: int, hour_start: datetime.datetime) -> str:
    return f"gen-s{seed}-{hour_start:%Y%m%d%H}"


def payload(lines: pa.Array) -> pa.Buffer:
    """The bytes of a (possibly sliced) string/binary array: its lines back to back."""
    n = len(lines)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + n + 1]
    return lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


class HourWriter:
    """Compresses one hour's lines into gzip files of at most MAX_LINES_PER_FILE lines; runs on the
    compressor thread only."""

    def __init__(self, folder: pathlib.Path, stem: str) -> None:
        self.folder = folder
        self.stem = stem
        self.paths: list[pathlib.Path] = []
        self._compressor = None
        self._parts: list[bytes] = []
        self._lines = 0

    def add(self, lines: pa.Array) -> None:
        start = 0
        while start < len(lines):
            if self._compressor is None:
                self._compressor = isal_zlib.compressobj(COMPRESS_LEVEL, isal_zlib.DEFLATED, 31)
            take = min(len(lines) - start, MAX_LINES_PER_FILE - self._lines)
            self._parts.append(self._compressor.compress(payload(lines.slice(start, take))))
            self._lines += take
            start += take
            if self._lines == MAX_LINES_PER_FILE:
                self._flush()

    def _flush(self) -> None:
        self._parts.append(self._compressor.flush())
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.stem}-{len(self.paths):03d}.jsonl.gz"
        tmp = self.folder / f".{path.name}.tmp"
        with open(tmp, "wb") as fh:
            fh.writelines(self._parts)
        os.replace(tmp, path)
        self.paths.append(path)
        self._compressor, self._parts, self._lines = None, [], 0

    def close(self) -> list[pathlib.Path]:
        if self._compressor is not None:
            self._flush()
        if self.folder.is_dir():  # parts of an earlier run that this run no longer writes
            for old in self.folder.glob(f"{self.stem}-*.jsonl.gz"):
                if old not in self.paths:
                    old.unlink()
        return self.paths


def chunks(render: Render, n: int, plan: HourPlan) -> Iterator[pa.Array]:
    """The hour's file content in chunks: kept events in time order with the extras interleaved."""
    keep = np.arange(n) if plan.keep is None else plan.keep
    n_kept = keep.shape[0]
    bounds = [*range(0, n_kept, CHUNK_LINES), n_kept]
    if n_kept == 0:
        bounds = [0, 0]
    cut = np.searchsorted(plan.extra_at, bounds[1:-1], side="left").tolist()
    extra_bounds = [0, *cut, len(plan.extra_at)]
    for j in range(len(bounds) - 1):
        lo, hi = bounds[j], bounds[j + 1]
        positions = slice(lo, hi) if plan.keep is None else keep[lo:hi]
        lines = render(positions) if hi > lo else None
        e_lo, e_hi = extra_bounds[j], extra_bounds[j + 1]
        if e_hi == e_lo:
            if lines is not None:
                yield lines
            continue
        extra = plan.extras.slice(e_lo, e_hi - e_lo)
        if lines is None:
            yield extra
            continue
        keys = np.concatenate([np.arange(lo, hi, dtype=np.float64), plan.extra_at[e_lo:e_hi] - 0.5])
        merged = pa.concat_arrays([lines.cast(pa.binary()), extra])
        yield merged.take(pa.array(np.argsort(keys, kind="stable")))


def write_landing(config: GeneratorConfig, data_dir: pathlib.Path, progress: bool = True) -> GenerateSummary:
    """Writes data_dir/landing/events/date=YYYY-MM-DD/hour=HH/gen-s<seed>-<YYYYMMDDHH>-<part>.jsonl.gz,
    UTF-8 JSON objects one per line (null fields omitted), applying the dirty knobs, with a tqdm bar;
    and each day's ad-spend CSV under data_dir/landing/ad_spend/date=YYYY-MM-DD/ (ad_spend.py)."""
    t0 = time.perf_counter()
    world = build_world(config)
    encoder = Encoder(world)
    injector = DirtyInjector(config, config.days * 24)
    ad_spend = AdSpendWriter(config, world.campaigns, data_dir)
    files: list[pathlib.Path] = []
    events = lines_written = 0
    queued: deque[Future] = deque()
    hours_done: list[Future] = []
    bar = tqdm(total=sum(day_events(config)), unit="events", unit_scale=True, disable=not progress, desc="generate")
    with bar, ThreadPoolExecutor(max_workers=1, thread_name_prefix="compress") as compressor:
        for hour in iter_hours(config, world, prefetch=True, encoder=encoder):
            view = encoder.view(hour.parts)
            n = view.n

            def render(pos, id_prefix: bytes | None = None, id_seq: np.ndarray | None = None, view=view):
                return encoder.lines(view, pos, id_prefix, id_seq)

            plan = injector.plan(hour.index, hour.start_ms, view.etype, render)
            writer = HourWriter(hour_dir(data_dir, hour.start), file_stem(config.seed, hour.start))
            for lines in chunks(render, n, plan):
                lines_written += len(lines)
                queued.append(compressor.submit(writer.add, lines))
                while len(queued) > MAX_QUEUED_CHUNKS:
                    queued.popleft().result()
            hours_done.append(compressor.submit(writer.close))
            ad_spend.add_hour(hour.index // 24, view.etype, view.ad)
            if hour.index % 24 == 23:
                ad_spend.write_day(hour.index // 24)
            events += n
            bar.update(n)
        for f in hours_done:
            files.extend(f.result())
        for f in queued:
            f.result()
    return GenerateSummary(
        events=events,
        lines=lines_written,
        files=sorted(files),
        duplicates=injector.duplicates,
        late=injector.late,
        malformed=dict(injector.malformed),
        seconds=time.perf_counter() - t0,
        ad_spend_files=ad_spend.paths,
        ad_spend_rows=ad_spend.rows,
        ad_spend_bad=dict(ad_spend.bad),
    )
