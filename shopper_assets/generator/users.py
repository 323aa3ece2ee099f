"""The shopper population and its state across days.

A day's sessions are first visits of brand-new users (NEW_VISIT_SHARE of them) and return visits of
known users, drawn in proportion to each user's return weight at that time. Known users are the
customer base that existed before the range (BASE_USERS_PER_DAILY_EVENT x events_per_day users, seen
before: "returning" from the first day, their last sessions ended before the range) and the users
acquired in the range.

A user's return weight is ``activity + burst * exp(-(now - engaged) / BURST_DAYS)``. A new visitor
may come back within days (the burst), then fades to a long-run activity that is zero for most
(one-off visitors) and lognormal for the STICKY_SHARE who become regulars; base users are past their
burst. Segments convert differently (funnel.py): prospects (never bought) least, customers (bought
before: part of the base, and every prospect after a first purchase) better, and a small loyal
segment, which also visits more often, far more. A purchase renews the burst, so buyers come back
within days. Hence most buyers buy once, a minority again, loyal users make a tail of frequent
buyers, and a weekly cohort's retention falls after its first week, then flattens at the regulars.
The pool also remembers each user's last session end (the 30-minute rule across slots and days) and
last campaign touch (retargeting, sessions.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from shopper_assets.contract.events import DEVICE_TYPES

COUNTRIES: tuple[str, ...] = ("US", "GB", "DE", "FR", "CA", "AU", "NL", "ES", "IT", "BR", "MX", "IN", "JP", "SE", "PL")
COUNTRY_SHARES = np.array([42, 9, 7, 5, 5, 3, 2.5, 3, 3, 4, 3, 5, 4, 1.5, 2], dtype=np.float64)

DEVICE_SHARES = {"mobile": 0.58, "desktop": 0.36, "tablet": 0.06}
BROWSERS: tuple[str, ...] = ("Chrome", "Safari", "Edge", "Firefox", "Samsung Internet", "Opera")
BROWSER_SHARES_BY_DEVICE = {
    "mobile": (0.55, 0.35, 0.0, 0.03, 0.07, 0.0),
    "desktop": (0.62, 0.12, 0.15, 0.09, 0.0, 0.02),
    "tablet": (0.40, 0.55, 0.0, 0.0, 0.05, 0.0),
}
SAME_DEVICE_SHARE = 0.85  # sessions on the user's preferred device

#: Share of sessions that are a brand-new user's first visit; the rest are return visits of known users.
NEW_VISIT_SHARE = 0.5
#: Customers known before the range, relative to events_per_day (50k for a 200k-events demo).
BASE_USERS_PER_DAILY_EVENT = 0.25
#: Segments: prospects have never bought, customers have (once or now and then), loyal users buy
#: often; the funnel converts them differently (funnel.py). A prospect's purchase makes a customer.
SEGMENTS = ("prospect", "loyal", "customer")
PROSPECT, LOYAL, CUSTOMER = range(len(SEGMENTS))
BASE_LOYAL_SHARE = 0.06  # of the base: loyal buyers
BASE_CUSTOMER_SHARE = 0.3  # of the base: other users with a purchase history
NEW_LOYAL_SHARE = 0.01  # of new users: future loyal customers
STICKY_SHARE = 0.1  # of the other new users: become regulars (a long-run activity); the rest are one-off
ACTIVITY_SIGMA = 1.1  # lognormal spread of long-run activity: monthly visitors to daily ones
LOYAL_ACTIVITY = 3.0  # loyal users visit this much more often
BURST_WEIGHT = 1.0  # a new user's extra return weight right after the first visit ...
BURST_DAYS = 2.0  # ... fading with this time constant (e-folding, days)
POST_PURCHASE_BURST = 3.0  # a purchase renews the burst, at least to this weight
MAX_SESSIONS_PER_DAY = 5.0  # cap on a user's expected sessions per day
SAMPLER_HOURS = 1  # return weights are recomputed this often (bursts fade, new users join)
SESSION_GAP_MS = 30 * 60 * 1000  # the 30-minute inactivity rule
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
NEVER = np.iinfo(np.int64).min // 2


def _cdf_sample(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), len(cdf) - 1)


def device_shares() -> np.ndarray:
    return np.array([DEVICE_SHARES[d] for d in DEVICE_TYPES], dtype=np.float64)


def browser_cdf_by_device() -> np.ndarray:
    """Row per device (contract order), cumulative browser shares."""
    return np.cumsum(np.array([BROWSER_SHARES_BY_DEVICE[d] for d in DEVICE_TYPES], dtype=np.float64), axis=1)


def sample_browser(device: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cdf = browser_cdf_by_device()[device]
    u = rng.random(device.shape[0])[:, None] * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=1), len(BROWSERS) - 1).astype(np.int8)


@dataclass
class UserPool:
    """Attributes and cross-day state of every user, one array entry per user: the base first, then
    users in the order they were acquired."""

    country: np.ndarray  # int8 into COUNTRIES
    device: np.ndarray  # int8 into DEVICE_TYPES
    browser: np.ndarray  # int8 into BROWSERS
    segment: np.ndarray  # int8 into SEGMENTS
    activity: np.ndarray  # float64 long-run return weight (0: never comes back after the burst)
    burst: np.ndarray  # float64 extra return weight after the first visit or a purchase, fading over BURST_DAYS
    engaged_ms: np.ndarray  # int64 when the burst started: the first visit, then the latest purchase
    seen: np.ndarray  # bool: had a session (base users: before the range)
    last_end: np.ndarray  # int64 ms of the last event of the user's latest session
    last_touch: np.ndarray  # int64 ms of the user's latest campaign touch (ad click or campaign visit)
    returning_per_day: float = 1.0  # return visits a day, to cap a user's share of them
    cache: dict = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        return self.country.shape[0]

    @classmethod
    def build(cls, n_base: int, sessions_per_day: float, range_start_ms: int, rng: np.random.Generator) -> UserPool:
        """The customer base before the range: seen, last sessions ended up to 30 days before it."""
        u = rng.random(n_base)
        segment = np.select(
            [u < BASE_LOYAL_SHARE, u < BASE_LOYAL_SHARE + BASE_CUSTOMER_SHARE], [LOYAL, CUSTOMER], PROSPECT
        )
        pool = cls._attributes(segment, rng)
        pool.activity = _long_run_activity(segment, rng)
        pool.engaged_ms[:] = range_start_ms - 365 * DAY_MS
        pool.seen[:] = True
        pool.last_end[:] = range_start_ms - SESSION_GAP_MS - rng.integers(0, 30 * DAY_MS, n_base)
        pool.returning_per_day = max((1 - NEW_VISIT_SHARE) * sessions_per_day, 1.0)
        return pool

    @classmethod
    def _attributes(cls, segment: np.ndarray, rng: np.random.Generator) -> UserPool:
        n = segment.shape[0]
        device = _cdf_sample(np.cumsum(device_shares()), rng.random(n)).astype(np.int8)
        return cls(
            country=_cdf_sample(np.cumsum(COUNTRY_SHARES), rng.random(n)).astype(np.int8),
            device=device,
            browser=sample_browser(device, rng),
            segment=segment.astype(np.int8),
            activity=np.zeros(n),
            burst=np.zeros(n),
            engaged_ms=np.zeros(n, dtype=np.int64),
            seen=np.zeros(n, dtype=bool),
            last_end=np.full(n, NEVER, dtype=np.int64),
            last_touch=np.full(n, NEVER, dtype=np.int64),
        )

    def acquire(self, segment: np.ndarray, born_ms: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Add new users (first visits at ``born_ms``) with the given segments; returns their ids."""
        extra = self._attributes(segment, rng)
        sticky = (segment == LOYAL) | (rng.random(segment.shape[0]) < STICKY_SHARE)
        extra.activity = np.where(sticky, _long_run_activity(segment, rng), 0.0)
        extra.burst = BURST_WEIGHT * np.exp(0.5 * rng.standard_normal(segment.shape[0]))
        extra.engaged_ms = born_ms.astype(np.int64)
        start = self.size
        for f in fields(self):
            if isinstance(mine := getattr(self, f.name), np.ndarray):
                setattr(self, f.name, np.concatenate([mine, getattr(extra, f.name)]))
        return np.arange(start, self.size, dtype=np.int32)

    def _sampler(self, now_ms: int) -> dict:
        """Cumulative return weights of the users known at the start of the current SAMPLER_HOURS
        window (all, and per segment); users acquired later join at the next window."""
        window = now_ms // (SAMPLER_HOURS * HOUR_MS)
        if self.cache.get("window") != window:
            at = window * SAMPLER_HOURS * HOUR_MS
            age_days = np.maximum(at - self.engaged_ms, 0) / DAY_MS
            weight = self.activity + self.burst * np.exp(-age_days / BURST_DAYS)
            for _ in range(3):  # nobody expected to have more return visits a day than fit the 30-minute rule
                weight = np.minimum(weight, MAX_SESSIONS_PER_DAY * weight.sum() / self.returning_per_day)
            self.cache.clear()
            self.cache["window"] = window
            self.cache["all"] = np.cumsum(weight)
            for seg in range(len(SEGMENTS)):
                self.cache[seg] = np.cumsum(np.where(self.segment == seg, weight, 0.0))
        return self.cache

    @staticmethod
    def _draw(cdf: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), cdf.shape[0] - 1).astype(
            np.int32
        )

    def sample_returning(self, n: int, now_ms: int, rng: np.random.Generator) -> np.ndarray:
        """Known users for ``n`` return visits around ``now_ms``, in proportion to their return weight."""
        return self._draw(self._sampler(now_ms)["all"], n, rng)

    def resample_within_segment(self, segment: np.ndarray, now_ms: int, rng: np.random.Generator) -> np.ndarray:
        sampler = self._sampler(now_ms)
        out = np.empty(segment.shape[0], dtype=np.int32)
        for seg in range(len(SEGMENTS)):
            want = segment == seg
            if want.any():
                cdf = sampler[seg] if sampler[seg][-1] > 0 else sampler["all"]
                out[want] = self._draw(cdf, int(want.sum()), rng)
        return out

    def assign(self, users: np.ndarray, start: np.ndarray, end: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Move return visits to other users of the same segment until every user's sessions are
        separated by more than 30 minutes, also from their earlier sessions. Vectorised: each round
        resamples only the conflicting sessions; what still conflicts goes to new users."""
        users = users.copy()
        segment = self.segment[users]
        now_ms = int(start[0]) if start.shape[0] else 0
        for _ in range(64):
            bad = self._conflicts(users, start, end)
            if bad.size == 0:
                return users
            users[bad] = self.resample_within_segment(segment[bad], now_ms, rng)
        bad = np.sort(self._conflicts(users, start, end))
        if bad.size:
            users[bad] = self.acquire(segment[bad], start[bad], rng)
        return users

    def _conflicts(self, users: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        order = np.lexsort((start, users))
        u = users[order]
        s = start[order]
        e = end[order]
        same = u[1:] == u[:-1]
        bad = np.zeros(u.shape[0], dtype=bool)
        bad[1:] = same & (s[1:] <= e[:-1] + SESSION_GAP_MS)
        first = np.ones(u.shape[0], dtype=bool)
        first[1:] = ~same
        bad |= first & (s <= self.last_end[u] + SESSION_GAP_MS)
        return order[bad]

    def mark_sessions(self, users: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Record a slot's sessions (given in start order); returns True where a session is the user's first."""
        _, first_idx = np.unique(users, return_index=True)
        is_first = np.zeros(users.shape[0], dtype=bool)
        is_first[first_idx] = True
        new = is_first & ~self.seen[users]
        self.seen[users] = True
        np.maximum.at(self.last_end, users, end)
        return new

    def touch(self, users: np.ndarray, t_ms: np.ndarray) -> None:
        """Record campaign touches (for retargeting)."""
        np.maximum.at(self.last_touch, users, t_ms)

    def purchased(self, users: np.ndarray, t_ms: np.ndarray) -> None:
        """A purchase makes a prospect a customer and renews the burst: buyers come back in the
        following days, some to buy again."""
        self.segment[users[self.segment[users] == PROSPECT]] = CUSTOMER
        np.maximum.at(self.engaged_ms, users, t_ms)
        self.burst[users] = np.maximum(self.burst[users], POST_PURCHASE_BURST)


def _long_run_activity(segment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    spread = np.exp(ACTIVITY_SIGMA * rng.standard_normal(segment.shape[0]) - ACTIVITY_SIGMA**2 / 2)  # mean 1
    return spread * np.where(segment == LOYAL, LOYAL_ACTIVITY, 1.0)
