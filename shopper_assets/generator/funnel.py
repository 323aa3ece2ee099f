"""The funnel of a session as numpy arrays: which events happen, in which order, how far apart.

Events of candidate sessions are generated as blocks (the click that brought a session from a
campaign, page views, sponsored listings and their clicks, product views, cart lines with companion
products, removals, cart page, checkout, purchase lines) placed on a position axis that encodes the
funnel order (arrival click < landing page < browsing < cart page < checkout < purchase lines), then
sorted per session and spaced by seconds-to-minutes gaps that always stay under 30 minutes (the
landing page loads a few hundred ms after the arrival click).

A session that arrives from a campaign starts with the ``ad_click`` on the campaign's ad that brought
it: the platform bills that click (ad_spend.py counts it like any click), so the orders arrivals bring
carry their cost, and it browses mostly the category the ad promotes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shopper_assets.contract.events import EVENT_TYPES, PAGES
from shopper_assets.generator.catalog import AD_CTR, Campaigns, Catalog

ET = {name: np.int8(i) for i, name in enumerate(EVENT_TYPES)}
PG = {name: np.int8(i) for i, name in enumerate(PAGES)}

# funnel step probabilities by users.SEGMENTS (prospect, loyal, customer)
P_PRODUCT = np.array([0.62, 0.80, 0.70])  # session views at least one product
P_ATC = np.array([0.09, 0.35, 0.25])  # ... adds to cart, given product views
P_CHECKOUT = np.array([0.38, 0.60, 0.55])  # ... checks out, given a cart
P_PURCHASE = np.array([0.70, 0.86, 0.80])  # ... pays, given a checkout
P_ADD_VIEWED = 0.35  # each viewed product goes to the cart (at least one does in a cart session)
P_REMOVE = 0.2  # a second or later cart line is removed again
P_CART_PAGE_ONLY = 0.3  # cart sessions without checkout that look at the cart page
P_COMPANION = 0.3  # an added product brings one of its companions into the cart (catalog.py)
MAX_LINES = 5
AD_IMPRESSIONS_MEAN = 0.35
MAIN_CATEGORY_SHARE = 0.7  # product views in the session's main category
ARRIVAL_FOCUS = 0.5  # arrivals whose main category is the one their ad promotes (others wander off)
QUANTITY_CDF = np.cumsum([0.74, 0.17, 0.06, 0.02, 0.01])
MEAN_EVENTS_PER_SESSION = 5.0  # first guess of how many sessions a slot needs (about 5.2)
AD_PAGES = np.array([PG["search"], PG["category"], PG["product"]])
ARRIVAL_POS, LANDING_POS = 0.0, 0.005  # funnel positions: the arrival click, then the landing page view
ARRIVAL_GAP_MS = (150, 900)  # the landing page loads this long after the arrival click
GAP_MEDIAN_MS = {  # typical wait before an event of this type
    "page_view": 25_000,
    "product_view": 35_000,
    "add_to_cart": 25_000,
    "remove_from_cart": 30_000,
    "checkout": 45_000,
    "purchase": 90_000,
    "ad_impression": 5_000,
    "ad_click": 4_000,
}
GAP_SIGMA = 0.9
MAX_GAP_MS = 25 * 60 * 1000  # well inside the 30-minute inactivity rule


def pick(shares: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    cdf = np.cumsum(shares)
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(cdf) - 1)


def pick_rows(cdf_rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One choice per row of a matrix of cumulative shares."""
    u = rng.random(cdf_rows.shape[0])[:, None] * cdf_rows[:, -1:]
    return np.minimum((cdf_rows <= u).sum(axis=1), cdf_rows.shape[1] - 1)


def _starts(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(counts.shape[0], dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def _rank_in_group(flag: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """1-based running count of ``flag`` within each group (rows sorted by group)."""
    c = np.cumsum(flag, dtype=np.int64)
    counts = np.bincount(group, minlength=n_groups)
    before = np.concatenate([[0], c])[_starts(counts)]
    return c - np.repeat(before, counts)


def _session_order(sess: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Order by (session, position); positions are distinct within a session and below 8."""
    return np.argsort(sess * 8.0 + pos)


@dataclass
class _Blocks:
    """Event blocks of candidate sessions before times and users are known."""

    parts: list[dict[str, np.ndarray]] = field(default_factory=list)

    def add(self, sess, pos, etype, page=-1, prod=-1, qty=0, ad=-1) -> None:
        n = sess.shape[0]
        self.parts.append(
            {
                "sess": sess.astype(np.int32),
                "pos": pos.astype(np.float64),
                "etype": np.full(n, etype, dtype=np.int8),
                "page": np.broadcast_to(np.asarray(page, dtype=np.int8), (n,)),
                "prod": np.broadcast_to(np.asarray(prod, dtype=np.int32), (n,)),
                "qty": np.broadcast_to(np.asarray(qty, dtype=np.int8), (n,)),
                "ad": np.broadcast_to(np.asarray(ad, dtype=np.int16), (n,)),
            }
        )

    def sorted_columns(self) -> dict[str, np.ndarray]:
        cols = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        order = np.argsort(cols["sess"] * 8.0 + cols["pos"], kind="stable")
        return {k: v[order] for k, v in cols.items()}


def funnel(
    catalog: Catalog, campaigns: Campaigns, seg: np.ndarray, arrival_ad: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Events of candidate sessions of users in segments ``seg`` (codes of users.SEGMENTS) that arrive
    from the campaign ads ``arrival_ad`` (-1: not from a campaign), sorted by (session, funnel
    position); pages of browsing page views and arrival clicks come later."""
    cat = catalog
    n = seg.shape[0]
    sess = np.arange(n, dtype=np.int32)
    blocks = _Blocks()

    # an arrival from a campaign starts with the (billed) click on its ad, for a product the ad promotes
    arrives = arrival_ad >= 0
    promoted = campaigns.campaign_category[campaigns.ad_campaign[np.maximum(arrival_ad, 0)]]
    a_ad = arrival_ad[arrives]
    a_prod = cat.sample_in_category(promoted[arrives], rng)
    blocks.add(sess[arrives], np.full(a_ad.shape[0], ARRIVAL_POS), ET["ad_click"], prod=a_prod, ad=a_ad)

    # browsing page views; the first one is the landing page
    n_pv = np.minimum(rng.geometric(0.45, n), 12)
    pv_sess = np.repeat(sess, n_pv)
    pv_pos = rng.uniform(0.01, 3.0, pv_sess.shape[0])
    pv_pos[_starts(n_pv)] = LANDING_POS
    blocks.add(pv_sess, pv_pos, ET["page_view"])

    # sponsored listings of any campaign while browsing (also in sessions that arrived from another
    # campaign), a few clicked; a click opens the promoted product
    n_imp = np.minimum(rng.poisson(AD_IMPRESSIONS_MEAN, n), 4)
    i_sess = np.repeat(sess, n_imp)
    i_pos = rng.uniform(0.02, 3.0, i_sess.shape[0])
    i_page = AD_PAGES[pick(np.ones(3), i_sess.shape[0], rng)]
    i_ad = campaigns.sample_ads(i_sess.shape[0], rng)
    i_prod = cat.sample_in_category(campaigns.campaign_category[campaigns.ad_campaign[i_ad]], rng)
    blocks.add(i_sess, i_pos, ET["ad_impression"], page=i_page, prod=i_prod, ad=i_ad)
    click = rng.random(i_sess.shape[0]) < AD_CTR
    blocks.add(
        i_sess[click], i_pos[click] + 1e-4, ET["ad_click"], page=i_page[click], prod=i_prod[click], ad=i_ad[click]
    )

    # product views: mostly in the session's main category (an arrival's: what its ad promotes), and
    # the products of clicked listings
    browses = rng.random(n) < P_PRODUCT[seg]
    n_organic = np.where(browses, np.minimum(rng.geometric(0.30, n), 25), 0)
    o_sess = np.repeat(sess, n_organic)
    main_cat = np.where(arrives & (rng.random(n) < ARRIVAL_FOCUS), promoted, cat.sample_category(n, rng))
    o_cat = np.where(
        rng.random(o_sess.shape[0]) < MAIN_CATEGORY_SHARE, main_cat[o_sess], cat.sample_category(o_sess.shape[0], rng)
    )
    v_sess = np.concatenate([o_sess, i_sess[click]])
    v_prod = np.concatenate([cat.sample_in_category(o_cat, rng), i_prod[click]])
    v_pos = np.concatenate([rng.uniform(0.02, 3.0, o_sess.shape[0]), i_pos[click] + 2e-4])
    by_pos = _session_order(v_sess, v_pos)
    v_sess, v_prod, v_pos = v_sess[by_pos], v_prod[by_pos], v_pos[by_pos]
    n_prodv = np.bincount(v_sess, minlength=n)
    blocks.add(v_sess, v_pos, ET["product_view"], page=PG["product"], prod=v_prod)

    # cart lines: some viewed products are added (always one in a cart session); an added product
    # sometimes brings a companion along (viewed, then added); at most MAX_LINES lines
    atc_sess = (n_prodv > 0) & (rng.random(n) < P_ATC[seg])
    add = atc_sess[v_sess] & (rng.random(v_sess.shape[0]) < P_ADD_VIEWED)
    last_view = _starts(n_prodv) + n_prodv - 1
    add[last_view[atc_sess]] = True
    a_sess, a_prod, a_pos = v_sess[add], v_prod[add], v_pos[add] + 1e-4
    companion = cat.sample_companions(a_prod, rng)
    brings = (companion >= 0) & (rng.random(a_sess.shape[0]) < P_COMPANION)
    c_sess, c_prod, c_pos = a_sess[brings], companion[brings], a_pos[brings] + 1e-4
    blocks.add(c_sess, c_pos, ET["product_view"], page=PG["product"], prod=c_prod)
    l_sess = np.concatenate([a_sess, c_sess])
    l_prod = np.concatenate([a_prod, c_prod])
    l_pos = np.concatenate([a_pos, c_pos + 1e-4])
    by_pos = _session_order(l_sess, l_pos)
    keep = by_pos[_rank_in_group(np.ones(l_sess.shape[0], dtype=bool), l_sess[by_pos], n) <= MAX_LINES]
    l_sess, l_prod, l_pos = l_sess[keep], l_prod[keep], l_pos[keep]
    l_rank = _rank_in_group(np.ones(l_sess.shape[0], dtype=bool), l_sess, n)
    l_qty = (np.searchsorted(QUANTITY_CDF, rng.random(l_sess.shape[0]) * QUANTITY_CDF[-1], side="right") + 1).astype(
        np.int8
    )
    l_page = np.where(rng.random(l_sess.shape[0]) < 0.9, PG["product"], PG["cart"])
    blocks.add(l_sess, l_pos, ET["add_to_cart"], page=l_page, prod=l_prod, qty=l_qty)
    removed = (l_rank >= 2) & (rng.random(l_sess.shape[0]) < P_REMOVE)
    r_pos = l_pos[removed] + (3.3 - l_pos[removed]) * rng.random(int(removed.sum()))
    blocks.add(
        l_sess[removed], r_pos, ET["remove_from_cart"], page=PG["cart"], prod=l_prod[removed], qty=l_qty[removed]
    )

    # cart page, checkout (one per order) and one purchase event per remaining line
    checkout = atc_sess & (rng.random(n) < P_CHECKOUT[seg])
    purchase = checkout & (rng.random(n) < P_PURCHASE[seg])
    cart_page = atc_sess & (checkout | (rng.random(n) < P_CART_PAGE_ONLY))
    blocks.add(sess[cart_page], np.full(int(cart_page.sum()), 3.2), ET["page_view"], page=PG["cart"])
    blocks.add(sess[checkout], np.full(int(checkout.sum()), 3.5), ET["checkout"], page=PG["checkout"])
    bought = purchase[l_sess] & ~removed
    blocks.add(
        l_sess[bought],
        4.0 + l_rank[bought] * 1e-3,
        ET["purchase"],
        page=PG["confirmation"],
        prod=l_prod[bought],
        qty=l_qty[bought],
    )
    return blocks.sorted_columns()


def gaps(etype: np.ndarray, first: np.ndarray, arrival: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Milliseconds before each event of sessions in funnel order (0 at a session's ``first`` event); the
    landing page after an ``arrival`` click follows it within ARRIVAL_GAP_MS."""
    median = np.array([GAP_MEDIAN_MS[name] for name in EVENT_TYPES], dtype=np.float64)[etype]
    gap = np.clip(median * np.exp(GAP_SIGMA * rng.standard_normal(etype.shape[0])), 300, MAX_GAP_MS).astype(np.int64)
    # the lines of one order are emitted together, a few milliseconds apart
    is_purchase = etype == ET["purchase"]
    next_line = np.zeros_like(is_purchase)
    next_line[1:] = is_purchase[1:] & is_purchase[:-1] & ~first[1:]
    gap[next_line] = rng.integers(0, 5, int(next_line.sum()))
    landed = np.flatnonzero(arrival) + 1
    gap[landed] = rng.integers(*ARRIVAL_GAP_MS, landed.shape[0])
    gap[first] = 0
    return gap
