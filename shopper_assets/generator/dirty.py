"""Dirty-data injection for the landing files: duplicates, late arrivals and malformed lines.

Everything is decided per hour from a seed-derived generator, on whole Arrow arrays of lines:
a duplicate is a byte copy of the original line, a late event is the original line moved to a later
hour's file, and a malformed line is a re-rendered good event with a fresh event id, then broken
by one regex (or byte) edit. The counters are exact, so the summary reconciles with the files.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopper_assets.contract.events import EVENT_TYPES, LINE_EVENTS, PRODUCT_EVENTS, required_fields_for
from shopper_assets.generator.config import MALFORMED_KINDS, GeneratorConfig

PRODUCT_CODES = np.array([t in PRODUCT_EVENTS for t in EVENT_TYPES])
LINE_CODES = np.array([t in LINE_EVENTS for t in EVENT_TYPES])
#: per event type, the required fields a missing_required line may lose (the id and type stay),
#: as codes into DROPPABLE_NAMES: a (event type, k) table padded with -1, and a count per type
_DROPPABLE = [[f for f in required_fields_for(t) if f not in ("event_id", "event_type")] for t in EVENT_TYPES]
DROPPABLE_NAMES = sorted({f for fields in _DROPPABLE for f in fields})
DROPPABLE_COUNT = np.array([len(fields) for fields in _DROPPABLE])
DROPPABLE_TABLE = np.array(
    [[DROPPABLE_NAMES.index(f) for f in fields] + [-1] * (DROPPABLE_COUNT.max() - len(fields)) for fields in _DROPPABLE]
)
FUTURE_YEARS = 12  # a multiple of 4, so 29 February stays a valid date
INVALID_UTF8 = b"\xe9\xff"  # a Latin-1 byte and a byte that never occurs in UTF-8


#: render(positions, id_prefix, id_seq) -> lines of those events of the hour (time-order positions,
#: an index array or a slice); id_prefix None keeps the event's own id
Render = Callable[[np.ndarray | slice, bytes | None, np.ndarray | None], pa.StringArray]


@dataclass
class HourPlan:
    """What the landing file of one hour holds besides its own events in time order."""

    keep: np.ndarray | None  # time-order positions written in this hour (None: all of them)
    extras: pa.Array | None  # binary lines from elsewhere: late arrivals, duplicates, malformed
    extra_at: np.ndarray  # for each extra line, the kept line it is written before (n_kept = at the end)


def stochastic_round(x: float, rng: np.random.Generator) -> int:
    base = int(np.floor(x))
    return base + int(rng.random() < x - base)


class DirtyInjector:
    """Applies a DirtyDataConfig hour by hour, carrying lines due in later hours."""

    def __init__(self, config: GeneratorConfig, n_hours: int) -> None:
        self.cfg = config.dirty
        self.seed = config.seed
        self.n_hours = n_hours
        self.pending: dict[int, list[pa.Array]] = defaultdict(list)
        self.duplicates = 0
        self.late = 0
        self.malformed = dict.fromkeys(MALFORMED_KINDS, 0)
        self._next_kind = 0

    def plan(self, index: int, start_ms: int, etype: np.ndarray, render: Render) -> HourPlan:
        """Decide the dirty data of hour ``index`` whose events (time order) have types ``etype``.
        Late and duplicated events are rendered here and queued for their delivery hour."""
        n = etype.shape[0]
        if not self.cfg.enabled:
            return HourPlan(None, None, np.zeros(0, dtype=np.int64))
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, index, 0xD1E7]))
        max_late = min(self.cfg.late_max_hours, self.n_hours - 1 - index)
        deliver = np.zeros(n, dtype=np.int64)
        if max_late >= 1 and self.cfg.late_rate > 0 and n:
            k = min(n, stochastic_round(self.cfg.late_rate * n, rng))
            rows = np.sort(rng.choice(n, k, replace=False))
            deliver[rows] = rng.integers(1, max_late + 1, k)
            self.late += k
            self._send(render(rows, None, None), index + deliver[rows])
        if self.cfg.duplicate_rate > 0 and n:
            k = min(n, stochastic_round(self.cfg.duplicate_rate * n, rng))
            rows = np.sort(rng.choice(n, k, replace=False))
            hours = rng.integers(0, self.cfg.late_max_hours + 1, k)
            target = np.minimum(index + deliver[rows] + hours, self.n_hours - 1)
            self.duplicates += k
            self._send(render(rows, None, None), target)
        extras = self.pending.pop(index, [])
        if self.cfg.malformed_rate > 0 and n:
            k = stochastic_round(self.cfg.malformed_rate * n, rng)
            extras.extend(self._malformed(start_ms, etype, render, k, rng))
        keep = np.flatnonzero(deliver == 0) if deliver.any() else None
        n_kept = n if keep is None else keep.shape[0]
        if not extras:
            return HourPlan(keep, None, np.zeros(0, dtype=np.int64))
        extra = pa.concat_arrays([e.cast(pa.binary()) for e in extras])
        at = rng.integers(0, n_kept + 1, len(extra))
        order = np.argsort(at, kind="stable")
        return HourPlan(keep, extra.take(pa.array(order)), at[order])

    def _send(self, lines: pa.Array, target: np.ndarray) -> None:
        for t in np.unique(target):
            self.pending[int(t)].append(lines.filter(pa.array(target == t)))

    # malformed lines -------------------------------------------------------------------------
    def _malformed(
        self, start_ms: int, etype: np.ndarray, render: Render, k: int, rng: np.random.Generator
    ) -> list[pa.Array]:
        """k malformed lines, kinds dealt round-robin over the run, each a broken copy of a random
        event of the hour with a fresh event id."""
        kinds = (self._next_kind + np.arange(k)) % len(MALFORMED_KINDS)
        self._next_kind = (self._next_kind + k) % len(MALFORMED_KINDS)
        n = etype.shape[0]
        any_row = np.ones(n, dtype=bool)
        has_price = PRODUCT_CODES[etype]
        has_qty = LINE_CODES[etype]
        stamp = datetime.datetime.fromtimestamp(start_ms / 1000, tz=datetime.UTC)
        prefix = f"x-{self.seed}-{stamp:%Y%m%d%H}-".encode()
        out: list[pa.Array] = []
        seq = 0

        def templates(count: int, eligible: np.ndarray) -> tuple[pa.StringArray, np.ndarray] | None:
            nonlocal seq
            pool = np.flatnonzero(eligible)
            if count == 0 or pool.size == 0:
                return None
            rows = pool[rng.integers(0, pool.size, count)]
            ids = np.arange(seq, seq + count)
            seq += count
            return render(rows, prefix, ids), rows

        def emit(kind: str, arr: pa.Array) -> None:
            out.append(arr)
            self.malformed[kind] += len(arr)

        def count(kind: str) -> int:
            return int((kinds == MALFORMED_KINDS.index(kind)).sum())

        if t := templates(count("not_json"), any_row):
            cut = len('{"event_id":"') + len(prefix) + 30
            emit("not_json", pc.binary_join_element_wise(pc.utf8_slice_codeunits(t[0], 0, cut), "\n", ""))
        n_wrong = count("wrong_type")
        variants = (  # (eligible rows, pattern, replacement): user_id as a number, price and quantity as text
            (any_row, r'"user_id":"u-0*(\d+)"', r'"user_id":\1'),
            (has_price, r'"price":[-0-9.]+', '"price":"abc"'),
            (has_qty, r'"quantity":\d+', '"quantity":"two"'),
        )
        for v, (eligible, pattern, repl) in enumerate(variants):
            if t := templates(len(range(v, n_wrong, len(variants))), eligible):
                emit(
                    "wrong_type",
                    pc.replace_substring_regex(t[0], pattern=pattern, replacement=repl, max_replacements=1),
                )
        if t := templates(count("missing_required"), any_row):
            lines, rows = t
            et = etype[rows]
            field = DROPPABLE_TABLE[et, (rng.random(et.shape[0]) * DROPPABLE_COUNT[et]).astype(np.int64)]
            for f in np.unique(field):
                pattern = f',"{DROPPABLE_NAMES[f]}":("[^"]*"|[^,}}]*)'
                sel = lines.filter(pa.array(field == f))
                emit(
                    "missing_required",
                    pc.replace_substring_regex(sel, pattern=pattern, replacement="", max_replacements=1),
                )
        if t := templates(count("unknown_event_type"), any_row):
            emit(
                "unknown_event_type",
                pc.replace_substring_regex(
                    t[0], pattern=r'"event_type":"[a-z_]+"', replacement='"event_type":"teleport"', max_replacements=1
                ),
            )
        if t := templates(count("negative_price"), has_price):
            emit(
                "negative_price",
                pc.replace_substring(t[0], pattern='"price":', replacement='"price":-', max_replacements=1),
            )
        if t := templates(count("future_timestamp"), any_row):
            year = f'"event_time":"{stamp.year + FUTURE_YEARS:04d}'
            emit(
                "future_timestamp",
                pc.replace_substring_regex(t[0], pattern=r'"event_time":"\d{4}', replacement=year, max_replacements=1),
            )
        if t := templates(count("invalid_utf8"), any_row):
            raw = t[0].cast(pa.binary())
            emit(
                "invalid_utf8",
                pc.replace_substring(
                    raw, pattern=b'"session_id":"', replacement=b'"session_id":"' + INVALID_UTF8, max_replacements=1
                ),
            )
        return out
