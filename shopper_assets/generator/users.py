"""The shopper population and its state across days.

A day's sessions are first visits of brand-new users (NEW_VISIT_SHARE of them) and return visits of
known users, drawn in proportion to each user's return weight at that time. Known users are the
customer base that existed before the range (BASE_USERS_PER_DAILY_EVENT x events_per_day users, seen
before: "returning" from the first day, their last sessions ended before the range) and the users
acquired in the range.

A user's return weight is ``activity + burst``, the burst fading by e every BURST_DAYS. A new visitor
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

from dataclasses import dataclass, field

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
RESAMPLE_ROUNDS = 8  # draws to find another user of a segment for a visit that breaks the 30-minute rule
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


#: the per-user arrays of UserPool (allocated with spare capacity; entries from ``size`` on are unused)
USER_ARRAYS = ("country", "device", "browser", "segment", "activity", "burst", "seen", "last_end", "last_touch")


@dataclass
class UserPool:
    """Attributes and cross-day state of every user, one array entry per user: the base first, then
    users in the order they were acquired. Arrays grow by doubling, so acquiring users costs what it adds."""

    country: np.ndarray  # int8 into COUNTRIES
    device: np.ndarray  # int8 into DEVICE_TYPES
    browser: np.ndarray  # int8 into BROWSERS
    segment: np.ndarray  # int8 into SEGMENTS
    activity: np.ndarray  # float64 long-run return weight (0: never comes back after the burst)
    burst: np.ndarray  # float64 extra return weight (first visit, purchase) as of ``burst_ms``, fading
    seen: np.ndarray  # bool: had a session (base users: before the range)
    last_end: np.ndarray  # int64 ms of the last event of the user's latest session
    last_touch: np.ndarray  # int64 ms of the user's latest campaign touch (ad click or campaign visit)
    size: int  # users so far
    burst_ms: int  # when the bursts were last faded
    returning_per_day: float  # return visits a day, to cap a user's share of them
    cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, n_base: int, sessions_per_day: float, range_start_ms: int, rng: np.random.Generator) -> UserPool:
        """The customer base before the range: seen, last sessions ended up to 30 days before it."""
        u = rng.random(n_base)
        segment = np.select(
            [u < BASE_LOYAL_SHARE, u < BASE_LOYAL_SHARE + BASE_CUSTOMER_SHARE], [LOYAL, CUSTOMER], PROSPECT
        )
        arrays = _attributes(segment, rng)
        arrays["activity"] = _long_run_activity(segment, rng)
        arrays["seen"][:] = True
        arrays["last_end"] = range_start_ms - SESSION_GAP_MS - rng.integers(0, 30 * DAY_MS, n_base)
        return cls(
            **arrays,
            size=n_base,
            burst_ms=range_start_ms,
            returning_per_day=max((1 - NEW_VISIT_SHARE) * sessions_per_day, 1.0),
        )

    def acquire(self, segment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Add new users (at their first visit) with the given segments; returns their ids."""
        n = segment.shape[0]
        arrays = _attributes(segment, rng)
        sticky = (segment == LOYAL) | (rng.random(n) < STICKY_SHARE)
        arrays["activity"] = np.where(sticky, _long_run_activity(segment, rng), 0.0)
        arrays["burst"] = BURST_WEIGHT * np.exp(0.5 * rng.standard_normal(n))
        start = self.size
        if start + n > self.country.shape[0]:
            capacity = max(start + n, 2 * self.country.shape[0])
            for name in USER_ARRAYS:
                old = getattr(self, name)
                grown = np.empty(capacity, dtype=old.dtype)
                grown[:start] = old[:start]
                setattr(self, name, grown)
        for name in USER_ARRAYS:
            getattr(self, name)[start : start + n] = arrays[name]
        self.size = start + n
        return np.arange(start, start + n, dtype=np.int32)

    def _cdf(self, now_ms: int) -> np.ndarray:
        """Cumulative return weights of the users known at the start of the current SAMPLER_HOURS
        window; bursts fade by one factor per window, users acquired later join at the next one."""
        window = now_ms // (SAMPLER_HOURS * HOUR_MS)
        if self.cache.get("window") != window:
            at = window * SAMPLER_HOURS * HOUR_MS
            burst = self.burst[: self.size]
            burst *= np.exp(-(at - self.burst_ms) / DAY_MS / BURST_DAYS)
            self.burst_ms = at
            weight = self.activity[: self.size] + burst
            # nobody expected to have more return visits a day than fit the 30-minute rule
            np.minimum(weight, MAX_SESSIONS_PER_DAY * weight.sum() / self.returning_per_day, out=weight)
            self.cache = {"window": window, "cdf": np.cumsum(weight)}
        return self.cache["cdf"]

    def sample_returning(self, n: int, now_ms: int, rng: np.random.Generator) -> np.ndarray:
        """Known users for ``n`` return visits around ``now_ms``, in proportion to their return weight."""
        cdf = self._cdf(now_ms)
        u = rng.random(n) * cdf[-1]
        by_value = np.argsort(u)  # a search with sorted keys walks the (large) CDF once: several times faster
        users = np.empty(n, dtype=np.int32)
        users[by_value] = np.minimum(np.searchsorted(cdf, u[by_value], side="right"), cdf.shape[0] - 1)
        return users

    def resample_within_segment(self, segment: np.ndarray, now_ms: int, rng: np.random.Generator) -> np.ndarray:
        """Other users of the given segments, in proportion to their return weight (redrawn until the
        segment matches, a few rounds); -1 where none was found."""
        out = np.full(segment.shape[0], -1, dtype=np.int32)
        todo = np.arange(segment.shape[0])
        for _ in range(RESAMPLE_ROUNDS):
            drawn = self.sample_returning(todo.shape[0], now_ms, rng)
            match = self.segment[drawn] == segment[todo]
            out[todo[match]] = drawn[match]
            todo = todo[~match]
            if todo.shape[0] == 0:
                break
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
            other = self.resample_within_segment(segment[bad], now_ms, rng)
            users[bad] = np.where(other >= 0, other, users[bad])
        bad = np.sort(self._conflicts(users, start, end))
        if bad.size:
            users[bad] = self.acquire(segment[bad], rng)
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

    def purchased(self, users: np.ndarray) -> None:
        """A purchase makes a prospect a customer and renews the burst: buyers come back in the
        following days, some to buy again."""
        self.segment[users[self.segment[users] == PROSPECT]] = CUSTOMER
        self.burst[users] = np.maximum(self.burst[users], POST_PURCHASE_BURST)


def _attributes(segment: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Home country, devices and empty state of new users with the given segments."""
    n = segment.shape[0]
    device = _cdf_sample(np.cumsum(device_shares()), rng.random(n)).astype(np.int8)
    return {
        "country": _cdf_sample(np.cumsum(COUNTRY_SHARES), rng.random(n)).astype(np.int8),
        "device": device,
        "browser": sample_browser(device, rng),
        "segment": segment.astype(np.int8),
        "activity": np.zeros(n),
        "burst": np.zeros(n),
        "seen": np.zeros(n, dtype=bool),
        "last_end": np.full(n, NEVER, dtype=np.int64),
        "last_touch": np.full(n, NEVER, dtype=np.int64),
    }


def _long_run_activity(segment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    spread = np.exp(ACTIVITY_SIGMA * rng.standard_normal(segment.shape[0]) - ACTIVITY_SIGMA**2 / 2)  # mean 1
    return spread * np.where(segment == LOYAL, LOYAL_ACTIVITY, 1.0)
