"""Runs the simulation slot by slot with bounded memory, and cuts it into UTC hours of event time.

Sessions are simulated per start slot (an hour, or a part of a busy hour holding at most
SLOT_EVENTS events); only the recent blocks whose sessions still run are held, so memory depends
on the slot size (and the user pool), not on the length of the range. Blocks are built strictly in
order (the user pool carries state) from per-slot seed-derived generators: a config always yields
the same events.
"""

from __future__ import annotations

import datetime
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from shopper_assets.generator import traffic
from shopper_assets.generator.catalog import build_campaigns, build_catalog
from shopper_assets.generator.config import GeneratorConfig
from shopper_assets.generator.encode import SCHEMA, Encoder
from shopper_assets.generator.sessions import MEAN_EVENTS_PER_SESSION, Block, World, build_block
from shopper_assets.generator.users import BASE_USERS_PER_DAILY_EVENT, UserPool

SLOT_EVENTS = 100_000


@dataclass
class HourSlice:
    """The events of one UTC hour: contiguous row ranges of the blocks whose sessions run in it
    (each range in time order; Encoder.view merges them)."""

    index: int  # hour number within the range, from 0
    start_ms: int
    parts: list[tuple[Block, np.ndarray]]

    @property
    def start(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.start_ms / 1000, tz=datetime.UTC)

    @property
    def n_events(self) -> int:
        return sum(rows.shape[0] for _, rows in self.parts)


def build_world(config: GeneratorConfig) -> World:
    n_base = max(50, int(config.events_per_day * BASE_USERS_PER_DAILY_EVENT))
    catalog = build_catalog(config.seed)
    users = UserPool.build(
        n_base,
        config.events_per_day / MEAN_EVENTS_PER_SESSION,
        traffic.epoch_ms(config.start),
        np.random.default_rng(np.random.SeedSequence([config.seed, 0x05E5])),
    )
    end = traffic.epoch_ms(config.start + datetime.timedelta(days=config.days))
    campaigns = build_campaigns(config.seed, catalog, config.events_per_day)
    return World(config.seed, catalog, campaigns, users, end, max_users=n_base + sum(day_events(config)))


def day_events(config: GeneratorConfig) -> list[int]:
    return [
        traffic.events_for_day(config.start + datetime.timedelta(days=d), config.events_per_day)
        for d in range(config.days)
    ]


def _slot_plan(config: GeneratorConfig) -> Iterator[tuple[int, int, int, int]]:
    """(hour index, slot start ms, slot length ms, events of sessions starting in the slot)."""
    for d in range(config.days):
        day = config.start + datetime.timedelta(days=d)
        counts = traffic.events_per_hour(day, config.events_per_day)
        for h in range(24):
            hour_start = traffic.epoch_ms(day) + h * traffic.HOUR_MS
            n_slots = max(1, -(-int(counts[h]) // SLOT_EVENTS))
            edges = [k * traffic.HOUR_MS // n_slots for k in range(n_slots + 1)]
            sizes = [int(counts[h]) * (k + 1) // n_slots - int(counts[h]) * k // n_slots for k in range(n_slots)]
            for k in range(n_slots):
                yield d * 24 + h, hour_start + edges[k], edges[k + 1] - edges[k], sizes[k]


def iter_blocks(config: GeneratorConfig, world: World) -> Iterator[Block]:
    """Blocks in slot order; sessions and orders are numbered per hour across its slots."""
    counters: dict[int, tuple[int, int]] = {}
    day_events: dict[int, int] = {}
    for slot, (hour, start_ms, slot_ms, n) in enumerate(_slot_plan(config)):
        if n == 0:
            continue
        s_off, o_off = counters.get(hour, (0, 0))
        e_off = day_events.get(hour // 24, 0)
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, slot, 0xB10C]))
        block = build_block(world, start_ms, slot_ms, n, rng, s_off, o_off, e_off)
        counters = {hour: (s_off + block.n_sessions, o_off + block.n_orders)}
        day_events = {hour // 24: e_off + n}
        yield block


_DONE = object()


def _prefetch(items: Iterator, depth: int = 2) -> Iterator:
    """Run an iterator in a background thread, ``depth`` items ahead (numpy releases the GIL)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    thread = threading.Thread(target=run, name="simulate", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def iter_hours(
    config: GeneratorConfig, world: World, prefetch: bool = False, encoder: Encoder | None = None
) -> Iterator[HourSlice]:
    """Every UTC hour of the range in order, with the events that happen in it. With ``prefetch``
    blocks are simulated (and, given an ``encoder``, prepared for rendering) in background threads, a few ahead."""
    blocks = iter_blocks(config, world)
    if prefetch:
        blocks = _prefetch(blocks)
    if encoder is not None:
        blocks = map(encoder.prepare, blocks)
        if prefetch:
            blocks = _prefetch(blocks)
    live: list[Block] = []
    upcoming = next(blocks, None)
    range_start = traffic.epoch_ms(config.start)
    for h in range(config.days * 24):
        start_ms = range_start + h * traffic.HOUR_MS
        end_ms = start_ms + traffic.HOUR_MS
        while upcoming is not None and upcoming.slot_start_ms < end_ms:
            live.append(upcoming)
            upcoming = next(blocks, None)
        live = [b for b in live if b.t_ms[-1] >= start_ms]
        parts = []
        for b in live:
            lo, hi = np.searchsorted(b.t_ms, [start_ms, end_ms])
            if hi > lo:
                parts.append((b, np.arange(lo, hi)))
        yield HourSlice(h, start_ms, parts)


def simulate_events(config: GeneratorConfig) -> Iterator[pa.Table]:
    """Yields the clean events hour by hour, in event_time order: one pa.Table per UTC hour of the
    range, columns = contract.EVENT_FIELDS in order (event_time timestamp[ms, UTC], price float64
    with 2 decimals, quantity int32, schema_version 1, absent optional fields null)."""
    world = build_world(config)
    encoder = Encoder(world)
    for hour in iter_hours(config, world):
        if not hour.parts:
            yield SCHEMA.empty_table()
            continue
        tables = [encoder.table(block, rows) for block, rows in hour.parts]
        if len(tables) == 1:
            yield tables[0]
            continue
        t = np.concatenate([block.t_ms[rows] for block, rows in hour.parts])
        yield pa.concat_tables(tables).take(pa.array(np.argsort(t, kind="stable")))
