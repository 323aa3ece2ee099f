"""One simulated time slot: the sessions starting in it, with users, devices, referrers, campaigns
and orders, all as numpy arrays (no per-event Python). Slots hold at most ~100k events, so memory
stays small and reused.

Sessions start uniformly within their slot (slots follow the diurnal curve). A share are first
visits of new users, the others return visits handed to known users (users.py) so that a user's
sessions are more than 30 minutes apart. How a session arrives (referrer, and the campaign ad of an
arrival from ads) is decided before its events, because an arrival from a campaign starts with the
click that brought it (funnel.py) and that click counts among the slot's events; then the event
structure comes from funnel.py, device and order data follow. Users who touched a campaign (clicked
a sponsored listing or arrived from a campaign, which is a click too) come back through a campaign
more often within RETARGET_DAYS (retargeting), so many buyers touch several campaigns before an order.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import numpy as np

from shopper_assets.contract.events import REFERRERS, USER_TYPES
from shopper_assets.generator.catalog import DISCOUNT_CODES, DISCOUNT_ORDER_SHARE, Campaigns, Catalog
from shopper_assets.generator.funnel import ET, MEAN_EVENTS_PER_SESSION, PG, funnel, gaps, pick, pick_rows
from shopper_assets.generator.users import (
    DAY_MS,
    LOYAL,
    NEW_LOYAL_SHARE,
    NEW_VISIT_SHARE,
    PROSPECT,
    SAME_DEVICE_SHARE,
    UserPool,
    device_shares,
    sample_browser,
)

__all__ = ["MEAN_EVENTS_PER_SESSION", "Block", "World", "build_block"]

REF = {name: i for i, name in enumerate(REFERRERS)}
NEW, RETURNING = USER_TYPES.index("new"), USER_TYPES.index("returning")

REFERRER_SHARES = {  # by user type, over contract.REFERRERS
    NEW: {"direct": 0.18, "search": 0.36, "social": 0.16, "email": 0.02, "ads": 0.20, "affiliate": 0.08},
    RETURNING: {"direct": 0.34, "search": 0.26, "social": 0.09, "email": 0.16, "ads": 0.10, "affiliate": 0.05},
}
BROWSE_PAGES = np.array([PG["home"], PG["search"], PG["category"]])
LANDING_SHARES = {  # by referrer, over BROWSE_PAGES
    "direct": (0.80, 0.10, 0.10),
    "search": (0.15, 0.55, 0.30),
    "social": (0.30, 0.10, 0.60),
    "email": (0.50, 0.05, 0.45),
    "ads": (0.10, 0.30, 0.60),
    "affiliate": (0.20, 0.10, 0.70),
}
BROWSE_SHARES = (0.30, 0.35, 0.35)
RETARGET_DAYS = 7  # a campaign touch makes a user a retargeting target for this long ...
RETARGET_SHARE = 0.05  # ... and this share of their return visits then arrive from a campaign


@dataclass
class World:
    """Everything shared by the days of one config: pools and the range end."""

    seed: int
    catalog: Catalog
    campaigns: Campaigns
    users: UserPool
    range_end_ms: int
    max_users: int  # bound on user numbers (the base plus one new user per event of the range at most)


@dataclass
class Block:
    """The events of the sessions that start in one slot of an hour, sorted by event time (sessions
    spill into later slots and hours). Codes index contract tuples (EVENT_TYPES, PAGES, ...) and the
    world's pools. Sessions and orders are numbered per hour: ids are tag + offset + local number."""

    slot_start_ms: int
    tag: str  # "<seed>-<YYYYMMDDHH>" of the hour the slot belongs to (session and order ids)
    session_offset: int  # sessions of earlier slots of the same hour
    order_offset: int
    event_offset: int  # events of earlier slots of the same day: event ids are numbered per day
    t_ms: np.ndarray  # int64 epoch ms
    sess: np.ndarray  # int32 session of the hour, numbered in start order
    etype: np.ndarray  # int8
    page: np.ndarray  # int8
    prod: np.ndarray  # int32, -1 when none
    qty: np.ndarray  # int8, 0 when none
    order: np.ndarray  # int32 order of the hour, -1 when none
    disc_cents: np.ndarray  # int64 discount on a purchase line, -1 when none
    ad: np.ndarray  # int16 ad of a sponsored listing (ad events), -1 otherwise
    s_user: np.ndarray
    s_device: np.ndarray
    s_browser: np.ndarray
    s_country: np.ndarray
    s_referrer: np.ndarray
    s_user_type: np.ndarray
    s_ad: np.ndarray  # int16 campaign ad of sessions arriving from ads (their first event clicks it), -1 otherwise
    o_discount: np.ndarray  # int8 index into DISCOUNT_CODES, -1 when none
    cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_events(self) -> int:
        return self.t_ms.shape[0]

    @property
    def n_sessions(self) -> int:
        return self.s_user.shape[0]

    @property
    def n_orders(self) -> int:
        return self.o_discount.shape[0]


def build_block(
    world: World,
    slot_start_ms: int,
    slot_ms: int,
    n_events: int,
    rng: np.random.Generator,
    session_offset: int = 0,
    order_offset: int = 0,
    event_offset: int = 0,
) -> Block:
    """Simulate the sessions starting in one slot until they hold exactly ``n_events`` events."""
    pool = world.users
    n_cand = int(n_events / MEAN_EVENTS_PER_SESSION * 1.1) + 16
    while True:
        new_visit = rng.random(n_cand) < NEW_VISIT_SHARE
        users0 = np.zeros(n_cand, dtype=np.int32)  # known users of return visits (first visits get theirs later)
        users0[~new_visit] = pool.sample_returning(n_cand - int(new_visit.sum()), slot_start_ms, rng)
        newcomer = np.where(rng.random(n_cand) < NEW_LOYAL_SHARE, LOYAL, PROSPECT)
        seg = np.where(new_visit, newcomer, pool.segment[users0]).astype(np.int8)
        referrer, s_ad = _arrivals(world, new_visit, users0, slot_start_ms, rng)
        ev = funnel(world.catalog, world.campaigns, seg, s_ad, rng)
        if ev["sess"].shape[0] >= n_events:
            break
        n_cand = int(n_cand * 1.3) + 16
    # keep exactly n_events: whole sessions plus the head of the last one
    ev = {k: v[:n_events] for k, v in ev.items()}
    n_sess = int(ev["sess"][-1]) + 1
    first = np.ones(n_events, dtype=bool)
    first[1:] = ev["sess"][1:] != ev["sess"][:-1]
    referrer, s_ad = referrer[:n_sess], s_ad[:n_sess]
    if first[-1] and s_ad[-1] >= 0:  # the cut left an arrival its click alone: a one-page direct visit instead
        referrer[-1], s_ad[-1] = REF["direct"], -1
        ev["etype"][-1], ev["prod"][-1], ev["ad"][-1] = ET["page_view"], -1, -1
    arrival = first & (ev["etype"] == ET["ad_click"])  # only an arrival starts with a click
    gap = gaps(ev["etype"], first, arrival, rng)
    offset = np.cumsum(gap)
    offset -= np.repeat(offset[first], np.bincount(ev["sess"], minlength=n_sess))
    duration = np.zeros(n_sess, dtype=np.int64)
    duration[ev["sess"]] = offset  # last write per session wins: events are in session order

    # start times within the slot; sessions must end inside the range
    start = slot_start_ms + rng.integers(0, slot_ms, n_sess)
    start = np.maximum(np.minimum(start, world.range_end_ms - 1 - duration), slot_start_ms)
    room = world.range_end_ms - 1 - start
    squeeze = duration > room  # too long to end in the range even when started early: run it faster
    if squeeze.any():
        factor = np.ones(n_sess)
        factor[squeeze] = room[squeeze] / duration[squeeze]
        offset = np.floor(offset * factor[ev["sess"]]).astype(np.int64)
        duration = np.minimum(duration, room)
    by_start = np.argsort(start, kind="stable")
    renumber = np.empty(n_sess, dtype=np.int32)
    renumber[by_start] = np.arange(n_sess, dtype=np.int32)
    start, duration = start[by_start], duration[by_start]
    users0, seg, new_visit = users0[:n_sess][by_start], seg[:n_sess][by_start], new_visit[:n_sess][by_start]
    referrer, s_ad = referrer[by_start], s_ad[by_start]
    sess = renumber[ev["sess"]]
    end = start + duration

    # users: return visits keep the 30-minute rule between a user's sessions, first visits get new users
    users = np.empty(n_sess, dtype=np.int32)
    back = ~new_visit
    users[back] = pool.assign(users0[back], start[back], end[back], rng)
    users[new_visit] = pool.acquire(seg[new_visit], rng)
    is_new = pool.mark_sessions(users, end)
    user_type = np.where(is_new, NEW, RETURNING).astype(np.int8)
    same_device = rng.random(n_sess) < SAME_DEVICE_SHARE
    device = np.where(same_device, pool.device[users], pick(device_shares(), n_sess, rng)).astype(np.int8)
    browser = np.where(device == pool.device[users], pool.browser[users], sample_browser(device, rng)).astype(np.int8)

    # pages of browsing page views: landing page by referrer (an arrival click is on it), then home/search/category
    etype, page = ev["etype"], ev["page"].copy()
    clicked_in = np.flatnonzero(arrival)
    landing = first.copy()
    landing[clicked_in] = False
    landing[clicked_in + 1] = True
    land_cdf = np.cumsum([LANDING_SHARES[r] for r in REFERRERS], axis=1)
    page[landing] = BROWSE_PAGES[pick_rows(land_cdf[referrer[sess[landing]]], rng)]
    page[clicked_in] = page[clicked_in + 1]
    rest = page < 0
    page[rest] = BROWSE_PAGES[pick(np.array(BROWSE_SHARES), int(rest.sum()), rng)]

    prod, ad = ev["prod"], ev["ad"]

    # orders: numbered by session start, a share with a discount code
    is_checkout = etype == ET["checkout"]
    order_of_sess = np.full(n_sess, -1, dtype=np.int32)
    ck_sess = np.sort(sess[is_checkout])
    order_of_sess[ck_sess] = np.arange(ck_sess.shape[0], dtype=np.int32)
    in_order = is_checkout | (etype == ET["purchase"])
    order = np.where(in_order, order_of_sess[sess], -1).astype(np.int32)
    n_orders = ck_sess.shape[0]
    code_w = np.array([c[2] for c in DISCOUNT_CODES])
    o_discount = np.where(rng.random(n_orders) < DISCOUNT_ORDER_SHARE, pick(code_w, n_orders, rng), -1).astype(np.int8)
    pct = np.array([c[1] for c in DISCOUNT_CODES], dtype=np.int64)
    disc_cents = np.full(n_events, -1, dtype=np.int64)
    line = (etype == ET["purchase"]) & (order >= 0)
    if n_orders:
        line &= o_discount[np.where(line, order, 0)] >= 0
    price = world.catalog.price_cents[prod[line]]
    disc_cents[line] = (price * ev["qty"][line] * pct[o_discount[order[line]]] + 50) // 100

    # campaign touches (arrivals from a campaign, clicks on sponsored listings) and purchases
    t_ms = start[sess] + offset
    pool.purchased(users[sess[etype == ET["purchase"]]])
    clicked = etype == ET["ad_click"]  # an arrival from a campaign starts with a click
    pool.touch(users[sess[clicked]], t_ms[clicked])

    # final order: by event time
    by_time = np.argsort(t_ms, kind="stable")
    stamp = datetime.datetime.fromtimestamp(slot_start_ms / 1000, tz=datetime.UTC)
    return Block(
        slot_start_ms=slot_start_ms,
        tag=f"{world.seed}-{stamp:%Y%m%d%H}",
        session_offset=session_offset,
        order_offset=order_offset,
        event_offset=event_offset,
        t_ms=t_ms[by_time],
        sess=sess[by_time],
        etype=etype[by_time],
        page=page[by_time],
        prod=prod[by_time],
        qty=np.ascontiguousarray(ev["qty"][by_time]),
        order=order[by_time],
        disc_cents=disc_cents[by_time],
        ad=ad[by_time],
        s_user=users,
        s_device=device,
        s_browser=browser,
        s_country=pool.country[users],
        s_referrer=referrer,
        s_user_type=user_type,
        s_ad=s_ad,
        o_discount=o_discount,
    )


def _arrivals(
    world: World, new_visit: np.ndarray, users0: np.ndarray, now_ms: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Referrer codes of candidate sessions and the campaign ad of those arriving from ads (-1 otherwise),
    decided before their events: shares by user type (a first visit is a new user's, a return visit a
    returning user's), and RETARGET_SHARE of the return visits of users ``users0`` who touched a
    campaign within RETARGET_DAYS before ``now_ms`` come through a campaign (retargeting)."""
    n = new_visit.shape[0]
    ref_cdf = np.cumsum([[REFERRER_SHARES[t][r] for r in REFERRERS] for t in (NEW, RETURNING)], axis=1)
    referrer = pick_rows(ref_cdf[(~new_visit).astype(np.int64)], rng).astype(np.int8)
    touched = world.users.last_touch[users0] >= now_ms - RETARGET_DAYS * DAY_MS
    referrer[~new_visit & touched & (rng.random(n) < RETARGET_SHARE)] = REF["ads"]
    s_ad = np.where(referrer == REF["ads"], world.campaigns.sample_arrival_ads(n, rng), -1).astype(np.int16)
    return referrer, s_ad
