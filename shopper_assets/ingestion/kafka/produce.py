"""Sends the generator's synthetic events to Kafka: one contract event (UTF-8 JSON) per message.

The events are simulate_events' events (same config, same order), but their JSON comes straight
from the generator's own encoder (``Encoder.lines``, as ``write_landing`` uses it), rendered hour by
hour in one vectorised pass: a Kafka message is byte-for-byte the line ``shopper generate`` would
write, and no second serializer exists. Only the produce call itself is per message.

The key is the user_id, so one shopper's events stay in order in one partition (murmur2
partitioner, as Java clients; idempotent producer, so retries neither duplicate nor reorder).
Delivery callbacks count what the broker acknowledged; anything not acknowledged by the end (after
a bounded flush) counts as failed.

Timestamps: by default every event is stamped at the moment it is rendered, just before it is sent
(the generator's sessions, in their order, with event_time = now), so nothing lands in an hour that
has not begun. ``start=`` replays a day instead: its events keep the generator's times from 00:00 UTC.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from confluent_kafka import KafkaException, Producer
from tqdm import tqdm

from shopper_assets.generator.config import GeneratorConfig
from shopper_assets.generator.encode import Encoder
from shopper_assets.generator.simulate import build_world, iter_hours
from shopper_assets.ingestion.kafka.client import base_config
from shopper_assets.settings import Settings

log = logging.getLogger(__name__)

RENDER_CHUNK = 50_000  # events rendered per encoder call: bounds memory on busy hours
DEFAULT_MESSAGE_TIMEOUT_MS = 30_000
ABORT_AFTER_FAILURES = 1_000  # stop sending when this many deliveries failed and none succeeded
USER_ID = r'"user_id":"(?P<u>[^"]*)"'
LIVE_EVENTS_PER_DAY = 200_000  # size of the simulated shop behind a live stream (its sessions, not its clock)
LIVE_DAYS = 30  # days simulated at a time for a live stream; the next window follows when they are used up


@dataclass
class ProduceReport:
    """What produce_events achieved; ``ok`` is what the CLI's exit status follows."""

    delivered: int
    failed: int
    seconds: float
    requested: int = 0
    topic: str = ""
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False  # stopped by Ctrl-C: what was sent before counts

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.delivered >= self.requested

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0


def event_messages(
    start: datetime.date, events_per_day: int, seed: int, limit: int
) -> Iterator[tuple[list[bytes], list[bytes]]]:
    """(values, keys) in chunks, in event_time order, until ``limit`` events: JSON without the
    trailing newline, and user ids, both cut from the encoder's lines in one Arrow pass."""
    config = GeneratorConfig(start=start, days=2, events_per_day=events_per_day, seed=seed)
    yield from _render(config, limit, RENDER_CHUNK)


def live_messages(
    seed: int, limit: float, chunk: int, clock: Callable[[], float] = time.time
) -> Iterator[tuple[list[bytes], list[bytes]]]:
    """Like event_messages, but each chunk is stamped with ``clock()`` (epoch seconds) when it is
    rendered, i.e. just before it is sent: event_time is never ahead of the clock. ``limit`` may be
    ``math.inf`` (a stream until stopped); the simulated days follow each other window by window."""
    per_day = LIVE_EVENTS_PER_DAY if limit > LIVE_EVENTS_PER_DAY else max(int(limit), 1000)
    today = datetime.datetime.fromtimestamp(clock(), datetime.UTC).date()
    left = limit
    for window in itertools.count():
        days = LIVE_DAYS if math.isinf(left) else min(LIVE_DAYS, math.ceil(left / per_day) + 1)
        config = GeneratorConfig(
            start=today + datetime.timedelta(days=window * LIVE_DAYS), days=days, events_per_day=per_day, seed=seed
        )
        for values, keys in _render(config, left, chunk, clock):
            left -= len(values)
            yield values, keys
        if left <= 0:
            return


def _render(
    config: GeneratorConfig, limit: float, chunk: int, clock: Callable[[], float] | None = None
) -> Iterator[tuple[list[bytes], list[bytes]]]:
    world = build_world(config)
    encoder = Encoder(world)
    left = limit
    for hour in iter_hours(config, world, prefetch=True, encoder=encoder):
        view = encoder.view(hour.parts)
        if clock is not None:  # restamped chunk by chunk below, in a copy of the hour's times
            view = dataclasses.replace(view, t_ms=view.t_ms.copy())
        n = int(min(view.n, left))
        for lo in range(0, n, chunk):
            pos = np.arange(lo, min(n, lo + chunk))
            if clock is not None:
                view.t_ms[pos] = int(clock() * 1000)
            lines = encoder.lines(view, pos)
            values = pc.binary_slice(lines.cast(pa.binary()), 0, -1)
            keys = pc.extract_regex(lines, USER_ID).field("u").cast(pa.binary())
            yield values.to_pylist(), keys.to_pylist()
        left -= n
        if left <= 0:
            return


class _Deliveries:
    """Delivery-report counters (called from producer.poll/flush on this thread)."""

    def __init__(self) -> None:
        self.delivered = 0
        self.failed = 0
        self.errors: list[str] = []

    def __call__(self, err, _msg) -> None:
        if err is None:
            self.delivered += 1
            return
        self.failed += 1
        text = str(err.str() if hasattr(err, "str") else err)
        if len(self.errors) < 5 and text not in self.errors:
            self.errors.append(text)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event that Ctrl-C (SIGINT) and SIGTERM set instead of raising, for ``produce_events(stop_event=)``:
    librdkafka's poll turns a KeyboardInterrupt raised inside it into a SystemError, so sending stops
    between polls instead. Off the main thread (no signal handlers there) the event is never set."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _plan(events: int | None, rate: float | None, duration: float | None) -> float:
    """How many events to send: N, or rate x duration (``math.inf`` for a duration of ``math.inf``)."""
    if events is not None and events < 1:
        raise ValueError("events must be >= 1")
    if rate is not None and rate <= 0:
        raise ValueError("rate must be > 0")
    if duration is not None and duration <= 0:
        raise ValueError("duration must be > 0")
    if events is not None:
        return events
    if rate is None or duration is None:
        raise ValueError("give either events, or rate and duration")
    return math.inf if math.isinf(duration) else max(1, math.ceil(rate * duration))


def produce_events(
    settings: Settings,
    *,
    events: int | None = None,
    rate: float | None = None,
    duration: float | None = None,
    topic: str | None = None,
    seed: int = 42,
    progress: bool = True,
    start: datetime.date | None = None,
    config: dict | None = None,
    stop_event: threading.Event | None = None,
) -> ProduceReport:
    """Send ``events`` synthetic events as fast as possible, or ``rate`` events/s for ``duration`` s
    (both: N events at that rate, stopping at the duration; ``duration=math.inf``: until Ctrl-C).
    Events are stamped at the time they are sent, or replay the day ``start`` from 00:00 UTC.
    ``config`` overrides producer settings (e.g. ``message.timeout.ms``). Never raises for delivery
    problems: they are counted in ``failed`` with the first errors. ``stop_event`` (set by
    ``stop_on_signals`` on Ctrl-C) stops sending; what was sent is flushed and reported."""
    total = _plan(events, rate, duration)
    topic = topic or settings.kafka_topics[0]
    deliveries = _Deliveries()
    conf = {
        **base_config(settings.kafka_bootstrap_servers),
        "logger": log,
        "enable.idempotence": True,
        "partitioner": "murmur2_random",
        "linger.ms": 20,
        "compression.type": "lz4",
        "message.timeout.ms": DEFAULT_MESSAGE_TIMEOUT_MS,
        "on_delivery": deliveries,
        **(config or {}),
    }
    producer = Producer(conf)
    produce, poll = producer.produce, producer.poll
    step = max(1, min(5_000, int(rate / 20))) if rate else 5_000  # sends between polls and pacing
    if start is None:
        messages = live_messages(seed, total, step)
    else:
        messages = event_messages(start, int(max(total, 1000)), seed, int(total))
    # the clock (pacing, duration, rate) starts with the first chunk: building the simulated shop before
    # it takes a second or more, and is no part of sending
    messages = itertools.chain([first], messages) if (first := next(messages, None)) else iter(())
    t0 = time.perf_counter()
    deadline = t0 + duration if duration is not None else math.inf
    sent = 0
    stop = ""  # why sending ended early, if it did
    bar_total = None if math.isinf(total) else total
    bar = tqdm(total=bar_total, unit="events", unit_scale=True, disable=not progress, desc=f"produce {topic}")
    left = 0
    try:
        with bar:
            for values, keys in messages:
                for lo in range(0, len(values), step):
                    for value, key in zip(values[lo : lo + step], keys[lo : lo + step], strict=True):
                        while True:
                            try:
                                produce(topic, value, key)
                                break
                            except BufferError:  # local queue full: serve delivery reports, then retry
                                poll(0.05)
                    n = min(step, len(values) - lo)
                    sent += n
                    bar.update(n)
                    poll(0)
                    if rate:  # pace: the i-th event leaves no earlier than t0 + i / rate
                        due = t0 + sent / rate
                        while (ahead := due - time.perf_counter()) > 0:
                            poll(ahead)  # returns early when it served a delivery report
                    if sent < total and time.perf_counter() >= deadline:
                        stop = "duration"
                        break
                    if stop_event is not None and stop_event.is_set():
                        stop = "interrupted"
                        break
                    if deliveries.failed >= ABORT_AFTER_FAILURES and deliveries.delivered == 0:
                        stop = f"stopped sending after {deliveries.failed} failed deliveries and none delivered"
                        break
                if stop:
                    break
            bar.set_postfix_str("flushing")
            left = producer.flush(conf["message.timeout.ms"] / 1000 + 5)
    except KafkaException as exc:  # e.g. a fatal idempotence error: report it, never hang
        deliveries.errors.append(str(exc))
        left = producer.flush(1.0)
    errors = list(deliveries.errors)
    if left:
        errors.append(f"{left} messages still unacknowledged after flush")
    if stop and stop not in ("duration", "interrupted"):
        errors.append(stop)
    if stop == "duration" and not math.isinf(total):
        log.warning("duration of %ss reached after %d of %d events (rate not sustained)", duration, sent, total)
    return ProduceReport(
        delivered=deliveries.delivered,
        failed=deliveries.failed + left,
        seconds=time.perf_counter() - t0,
        requested=sent if stop in ("duration", "interrupted") else int(total),
        topic=topic,
        errors=errors,
        interrupted=stop == "interrupted",
    )
