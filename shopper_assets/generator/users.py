"""The shopper population and its state across days.

Each user has a home country, a preferred device and browser, an activity level and a segment
(a small "loyal" minority visits more often and buys far more often), so multi-day ranges show
retention and repeat purchases. The pool remembers who was seen and when each user's last session
ended, which drives ``user_type`` and keeps a 30-minute gap between a user's sessions across days.
"""

from __future__ import annotations

from dataclasses import dataclass

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

LOYAL_SHARE = 0.04  # users who buy repeatedly
LOYAL_ACTIVITY = 3.0
ACTIVITY_LEVELS = 48
USERS_PER_DAILY_EVENT = 0.3  # pool size relative to events_per_day
MAX_SESSIONS_PER_DAY = 5.0  # cap on a user's expected sessions per day
SESSION_GAP_MS = 30 * 60 * 1000  # the 30-minute inactivity rule


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
    """Attributes and cross-day state of every simulated user, one array entry per user."""

    country: np.ndarray  # int8 into COUNTRIES
    device: np.ndarray  # int8 into DEVICE_TYPES
    browser: np.ndarray  # int8 into BROWSERS
    segment: np.ndarray  # int8: 0 regular, 1 loyal
    activity: np.ndarray  # float64 sampling weight, one of ACTIVITY_LEVELS values
    seen: np.ndarray  # bool: had a session earlier in the range
    last_end: np.ndarray  # int64 ms of the last event of the user's latest session

    @property
    def size(self) -> int:
        return self.country.shape[0]

    @classmethod
    def build(cls, n: int, sessions_per_day: float, rng: np.random.Generator) -> UserPool:
        pool = cls._attributes(n, rng)
        # cap activity so nobody is expected to have more sessions a day than fit the 30-minute rule
        for _ in range(3):
            cap = MAX_SESSIONS_PER_DAY * pool.activity.sum() / max(sessions_per_day, 1.0)
            pool.activity = np.minimum(pool.activity, cap)
        # a few dozen activity levels: sampling picks a (segment, level) group, then a member uniformly
        log_a = np.log(pool.activity)
        step = max((log_a.max() - log_a.min()) / (ACTIVITY_LEVELS - 1), 1e-9)
        pool.activity = np.exp(log_a.min() + np.round((log_a - log_a.min()) / step) * step)
        return pool

    @classmethod
    def _attributes(cls, n: int, rng: np.random.Generator) -> UserPool:
        segment = (rng.random(n) < LOYAL_SHARE).astype(np.int8)
        activity = np.exp(0.8 * rng.standard_normal(n)) * np.where(segment == 1, LOYAL_ACTIVITY, 1.0)
        device = _cdf_sample(np.cumsum(device_shares()), rng.random(n)).astype(np.int8)
        return cls(
            country=_cdf_sample(np.cumsum(COUNTRY_SHARES), rng.random(n)).astype(np.int8),
            device=device,
            browser=sample_browser(device, rng),
            segment=segment,
            activity=activity,
            seen=np.zeros(n, dtype=bool),
            last_end=np.full(n, np.iinfo(np.int64).min // 2, dtype=np.int64),
        )

    def extend(self, segment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Add fresh users with the given segments (a fallback when the pool is too busy); returns their ids."""
        extra = self._attributes(segment.shape[0], rng)
        extra.segment = segment.astype(np.int8)
        extra.activity = np.full(segment.shape[0], np.median(self.activity))
        start = self.size
        for name in ("country", "device", "browser", "segment", "activity", "seen", "last_end"):
            setattr(self, name, np.concatenate([getattr(self, name), getattr(extra, name)]))
        return np.arange(start, self.size, dtype=np.int32)

    def _groups(self) -> dict:
        """Users grouped by (segment, activity level): members in group order, group starts and
        sizes, and sampling CDFs over the groups (all, and per segment). Rebuilt when the pool grows."""
        cache = self.__dict__.setdefault("_cache", {})
        if cache.get("size") != self.size:
            levels, level = np.unique(self.activity, return_inverse=True)
            key = self.segment.astype(np.int64) * levels.shape[0] + level
            n_groups = 2 * levels.shape[0]
            count = np.bincount(key, minlength=n_groups)
            weight = count * np.tile(levels, 2)
            cache.clear()
            cache.update(
                size=self.size,
                members=np.argsort(key, kind="stable").astype(np.int32),
                start=np.concatenate([[0], np.cumsum(count)[:-1]]),
                count=count,
                all=np.cumsum(weight),
            )
            for seg in (0, 1):
                w = np.where(np.arange(n_groups) // levels.shape[0] == seg, weight, 0.0)
                cache[seg] = np.cumsum(w) if w.sum() > 0 else cache["all"]
        return cache

    def _sample_groups(self, cdf: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        g = self._groups()
        group = np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), cdf.shape[0] - 1)
        within = (rng.random(n) * g["count"][group]).astype(np.int64)
        return g["members"][g["start"][group] + within]

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Users for ``n`` sessions, proportional to activity."""
        return self._sample_groups(self._groups()["all"], n, rng)

    def resample_within_segment(self, segment: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.empty(segment.shape[0], dtype=np.int32)
        for seg in (0, 1):
            want = segment == seg
            if want.any():
                out[want] = self._sample_groups(self._groups()[seg], int(want.sum()), rng)
        return out

    def assign(self, users: np.ndarray, start: np.ndarray, end: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Move sessions to other users of the same segment until every user's sessions are separated
        by more than 30 minutes, also from their sessions of earlier days. Vectorised: each round
        resamples only the conflicting sessions."""
        users = users.copy()
        segment = self.segment[users]
        for _ in range(64):
            bad = self._conflicts(users, start, end)
            if bad.size == 0:
                return users
            users[bad] = self.resample_within_segment(segment[bad], rng)
        bad = self._conflicts(users, start, end)
        if bad.size:
            users[bad] = self.extend(segment[bad], rng)
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
        """Record a day's sessions (given in start order); returns True where a session is the user's first."""
        _, first_idx = np.unique(users, return_index=True)
        is_first = np.zeros(users.shape[0], dtype=bool)
        is_first[first_idx] = True
        new = is_first & ~self.seen[users]
        self.seen[users] = True
        np.maximum.at(self.last_end, users, end)
        return new
