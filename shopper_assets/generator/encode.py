"""Turns simulated blocks into JSON lines and Arrow tables, vectorised.

A line is glued from fragments with one ``binary_join_element_wise``: a fixed-width head (event id
and time, see text.py) and pre-rendered fragments gathered with Arrow ``take`` from lookup tables
(event type x page x quantity, one per product, per session, per order). Null fragments are
skipped, so absent optional fields are omitted from the JSON (never written as null). Pool strings
are plain ASCII without quotes or backslashes, so no escaping is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopper_assets.contract.events import (
    DEFAULT_CURRENCY,
    DEVICE_TYPES,
    EVENT_FIELDS,
    EVENT_TYPES,
    PAGES,
    REFERRERS,
    SCHEMA_VERSION,
    USER_TYPES,
)
from shopper_assets.generator.catalog import DISCOUNT_CODES
from shopper_assets.generator.sessions import Block, World
from shopper_assets.generator.text import fixed_width, money
from shopper_assets.generator.users import BROWSERS, COUNTRIES

MAX_QTY = 5
EVENT_SEQ_DIGITS = 9  # event ids are numbered per day: up to a billion events a day
ARROW_TYPES = {"string": pa.string(), "number": pa.float64(), "integer": pa.int32()}
#: Arrow schema of simulate_events tables: the contract's fields in order, event_time as UTC timestamp
SCHEMA = pa.schema(
    [
        (f.name, pa.timestamp("ms", tz="UTC") if f.name == "event_time" else ARROW_TYPES[f.json_type])
        for f in EVENT_FIELDS
    ]
)
TAIL = f',"currency":"{DEFAULT_CURRENCY}","schema_version":{SCHEMA_VERSION}}}\n'


@dataclass
class HourView:
    """The events of one hour in time order, as codes into the concatenated fragment tables of
    the blocks they come from (``part`` says which block, ``num`` is the event number of its day)."""

    t_ms: np.ndarray
    etype: np.ndarray
    page: np.ndarray
    qty: np.ndarray
    prod: np.ndarray
    order: np.ndarray
    disc: np.ndarray
    ad: np.ndarray  # a listing's ad on ad events, else the ad of the campaign the session came from, or -1
    sess: np.ndarray
    part: np.ndarray
    num: np.ndarray
    session_frag: pa.StringArray
    order_frag: pa.StringArray
    id_prefix: np.ndarray  # (parts, k) bytes of "e-<seed>-<YYYYMMDD>-"

    @property
    def n(self) -> int:
        return self.t_ms.shape[0]


def _masked(idx: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(np.where(valid, idx, 0), mask=~valid)


class Encoder:
    """Fragment tables of one world, and the functions that render blocks with them."""

    def __init__(self, world: World) -> None:
        self.world = world
        cat = world.catalog
        combos = []
        for et in EVENT_TYPES:
            for page in PAGES:
                for q in range(MAX_QTY + 1):
                    qty = f',"quantity":{q}' if q else ""
                    combos.append(f',"event_type":"{et}","page":"{page}"{qty}')
        self.combo = pa.array(combos)
        price = money(cat.price_cents).to_pylist()
        base = []
        for i, pid in enumerate(cat.product_ids):
            brand = cat.product_brand[i]
            brand_part = f',"brand":"{brand}"' if brand else ""
            base.append(f',"product_id":"{pid}","category":"{cat.category_names[cat.product_category[i]]}"{brand_part}')
        # first half with the unit price (product, cart and order lines), second half without (ad events)
        self.product = pa.array([b + f',"price":{p}' for b, p in zip(base, price, strict=True)] + base + [""])
        camp = world.campaigns
        # the last entry of each fragment table is "", used where the event has no such field
        self.ad = pa.array(
            [
                f',"campaign_id":"{camp.campaign_ids[c]}","ad_id":"{a}"'
                for a, c in zip(camp.ad_ids, camp.ad_campaign, strict=True)
            ]
            + [""]
        )
        self.discount = pa.array([f',"discount_code":"{c[0]}"' for c in DISCOUNT_CODES] + [""])
        self.session_attrs = pa.array(
            [
                f',"device_type":"{d}","browser":"{b}","country":"{c}","referrer":"{r}","user_type":"{u}"'
                for d in DEVICE_TYPES
                for b in BROWSERS
                for c in COUNTRIES
                for r in REFERRERS
                for u in USER_TYPES
            ]
        )
        self.user_width = max(7, len(str(world.max_users)))
        self.is_ad = np.zeros(len(EVENT_TYPES), dtype=bool)
        self.is_ad[[EVENT_TYPES.index("ad_impression"), EVENT_TYPES.index("ad_click")]] = True

    # ids -------------------------------------------------------------------------------------
    def user_ids(self, users: np.ndarray) -> pa.StringArray:
        return fixed_width([b"u-", ("digits", users, self.user_width)], users.shape[0])

    @staticmethod
    def _numbers(first: int, local: np.ndarray, count: int, minimum: int) -> tuple:
        return ("digits", first + local, max(minimum, len(str(first + count))))

    def session_ids(self, block: Block, sess: np.ndarray) -> pa.StringArray:
        tag = f"s-{block.tag}-".encode()
        return fixed_width([tag, self._numbers(block.session_offset, sess, block.n_sessions, 6)], sess.shape[0])

    def order_ids(self, block: Block, order: np.ndarray) -> pa.StringArray:
        tag = f"o-{block.tag}-".encode()
        return fixed_width([tag, self._numbers(block.order_offset, order, block.n_orders, 5)], order.shape[0])

    @staticmethod
    def event_id_parts(block: Block, rows: np.ndarray) -> tuple[bytes, np.ndarray]:
        """Event ids are numbered per day of session start, in the order the slots are simulated:
        ``e-<seed>-<YYYYMMDD>-<number>``."""
        return f"e-{block.tag[:-2]}-".encode(), ("digits", block.event_offset + rows, EVENT_SEQ_DIGITS)

    # per-block fragment tables ---------------------------------------------------------------
    def _session_fragments(self, block: Block) -> pa.StringArray:
        if "session_frag" not in block.cache:
            n = block.n_sessions
            sess = np.arange(n)
            ids = fixed_width(
                [
                    b',"user_id":"u-',
                    ("digits", block.s_user, self.user_width),
                    f'","session_id":"s-{block.tag}-'.encode(),
                    self._numbers(block.session_offset, sess, n, 6),
                    b'"',
                ],
                n,
            )
            code = block.s_device.astype(np.int64)
            for arr, size in (
                (block.s_browser, len(BROWSERS)),
                (block.s_country, len(COUNTRIES)),
                (block.s_referrer, len(REFERRERS)),
                (block.s_user_type, len(USER_TYPES)),
            ):
                code = code * size + arr
            attrs = self.session_attrs.take(pa.array(code))
            block.cache["session_frag"] = pc.binary_join_element_wise(ids, attrs, "")
        return block.cache["session_frag"]

    def _order_fragments(self, block: Block) -> pa.StringArray:
        if "order_frag" not in block.cache:
            n = block.o_discount.shape[0]
            tag = f',"order_id":"o-{block.tag}-'.encode()
            ids = fixed_width([tag, self._numbers(block.order_offset, np.arange(n), n, 5), b'"'], n)
            codes = self.discount.take(
                pa.array(np.where(block.o_discount >= 0, block.o_discount, len(self.discount) - 1))
            )
            block.cache["order_frag"] = pc.binary_join_element_wise(ids, codes, "")
        return block.cache["order_frag"]

    # lines -----------------------------------------------------------------------------------
    def prepare(self, block: Block) -> Block:
        """Build a block's session and order fragments (done in a background thread)."""
        self._session_fragments(block)
        self._order_fragments(block)
        return block

    def view(self, parts: list[tuple[Block, np.ndarray]]) -> HourView:
        """Merge the events of one hour from several blocks into time order, with the blocks'
        fragment tables concatenated, so the hour renders in one pass."""
        parts = [(b, rows) for b, rows in parts if rows.shape[0]]
        s_off = np.cumsum([0] + [b.n_sessions for b, _ in parts])
        o_off = np.cumsum([0] + [b.n_orders for b, _ in parts])

        def cat(get) -> np.ndarray:
            arrays = [get(i, b, rows) for i, (b, rows) in enumerate(parts)]
            return np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)

        no_order = int(o_off[-1])  # index of the "" appended to the order fragments
        order = cat(lambda i, b, r: np.where(b.order[r] >= 0, b.order[r] + o_off[i], no_order))
        cols = {
            "t_ms": cat(lambda i, b, r: b.t_ms[r]),
            "etype": cat(lambda i, b, r: b.etype[r]).astype(np.int8),
            "page": cat(lambda i, b, r: b.page[r]).astype(np.int8),
            "qty": cat(lambda i, b, r: b.qty[r]).astype(np.int8),
            "prod": cat(lambda i, b, r: b.prod[r]),
            "order": order,
            "disc": cat(lambda i, b, r: b.disc_cents[r]),
            "ad": cat(lambda i, b, r: np.where(b.ad[r] >= 0, b.ad[r], b.s_ad[b.sess[r]])),
            "sess": cat(lambda i, b, r: b.sess[r] + s_off[i]),
            "part": cat(lambda i, b, r: np.full(r.shape[0], i, dtype=np.int32)),
            "num": cat(lambda i, b, r: b.event_offset + r),
        }
        if len(parts) > 1:
            by_time = np.argsort(cols["t_ms"], kind="stable")
            cols = {k: v[by_time] for k, v in cols.items()}
        prefixes = [f"e-{b.tag[:-2]}-".encode() for b, _ in parts] or [b""]
        return HourView(
            **cols,
            session_frag=pa.concat_arrays([b.cache["session_frag"] for b, _ in parts] or [pa.array([], pa.string())]),
            order_frag=pa.concat_arrays([b.cache["order_frag"] for b, _ in parts] + [pa.array([""], pa.string())]),
            id_prefix=np.frombuffer(b"".join(prefixes), dtype=np.uint8).reshape(len(prefixes), -1),
        )

    def lines(
        self,
        view: HourView,
        pos: np.ndarray | slice,
        id_prefix: bytes | None = None,
        id_seq: np.ndarray | None = None,
    ) -> pa.StringArray:
        """JSON lines (each ending in a newline) of the events at positions ``pos`` (an index array or
        a slice) of an hour view. ``id_prefix`` + ``id_seq`` replace the event ids (malformed copies
        get fresh ones)."""
        t_ms = view.t_ms[pos]
        n = t_ms.shape[0]
        num = view.num[pos]
        if id_prefix is not None:
            ids = [b'{"event_id":"' + id_prefix, ("digits", id_seq, EVENT_SEQ_DIGITS)]
        elif view.id_prefix.shape[0] == 1 or (view.id_prefix == view.id_prefix[0]).all():
            ids = [b'{"event_id":"' + view.id_prefix[0].tobytes(), ("digits", num, EVENT_SEQ_DIGITS)]
        else:  # the hour after midnight holds sessions of two days
            ids = [b'{"event_id":"', view.id_prefix[view.part[pos]], ("digits", num, EVENT_SEQ_DIGITS)]
        head = fixed_width([*ids, b'","event_time":"', ("time", t_ms), b'"'], n)
        etype = view.etype[pos]
        combo = (etype.astype(np.int32) * len(PAGES) + view.page[pos]) * (MAX_QTY + 1) + view.qty[pos]
        prod = view.prod[pos]
        n_products = self.world.catalog.n_products
        prod_idx = np.where(prod >= 0, prod + np.where(self.is_ad[etype], n_products, 0), 2 * n_products)
        parts = [
            head,
            self.combo.take(pa.array(combo)),
            view.session_frag.take(pa.array(view.sess[pos])),
            self.product.take(pa.array(prod_idx)),
            view.order_frag.take(pa.array(view.order[pos])),
        ]
        disc = view.disc[pos]
        has_disc = disc >= 0
        if has_disc.any():
            amounts = pc.binary_join_element_wise(',"discount_amount":', money(disc[has_disc]), "")
            parts.append(amounts.take(_masked(np.cumsum(has_disc) - 1, has_disc)))
        ad = view.ad[pos]
        if (ad >= 0).any():
            parts.append(self.ad.take(pa.array(np.where(ad >= 0, ad, len(self.ad) - 1))))
        parts.append(pa.scalar(TAIL))
        return pc.binary_join_element_wise(*parts, "", null_handling="skip")

    # tables ----------------------------------------------------------------------------------
    def table(self, block: Block, rows: np.ndarray) -> pa.Table:
        """Rows of a block as an Arrow table with the contract's columns, in contract order."""
        world = self.world
        cat = world.catalog
        camp = world.campaigns
        sess = block.sess[rows]
        etype = block.etype[rows]
        prod = block.prod[rows]
        has_prod = prod >= 0
        safe_prod = np.where(has_prod, prod, 0)
        is_product_event = has_prod & ~self.is_ad[etype]
        order = block.order[rows]
        qty = block.qty[rows]
        disc = block.disc_cents[rows]
        ad = np.where(block.ad[rows] >= 0, block.ad[rows], block.s_ad[sess])
        users = block.s_user[sess]
        o_code = np.full(rows.shape[0], -1, dtype=np.int8)
        o_code[order >= 0] = block.o_discount[order[order >= 0]]

        def lookup(values: tuple, idx: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
            arr = pa.array(list(values), pa.string())
            return arr.take(pa.array(idx) if valid is None else _masked(idx, valid))

        price = pa.array(cat.price_cents[safe_prod] / 100.0, mask=~is_product_event)
        brand_idx = np.where(has_prod, prod, 0)
        columns = {
            "event_id": fixed_width(list(self.event_id_parts(block, rows)), rows.shape[0]),
            "event_type": lookup(EVENT_TYPES, etype),
            "event_time": pa.array(block.t_ms[rows], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "user_id": self.user_ids(users),
            "session_id": self.session_ids(block, sess),
            "page": lookup(PAGES, block.page[rows]),
            "product_id": lookup(cat.product_ids, safe_prod, has_prod),
            "category": lookup(cat.category_names, cat.product_category[safe_prod], has_prod),
            "brand": lookup(cat.product_brand, brand_idx, has_prod),
            "price": price,
            "quantity": pa.array(qty.astype(np.int32), mask=qty == 0),
            "order_id": self.order_ids(block, np.arange(block.o_discount.shape[0])).take(_masked(order, order >= 0)),
            "discount_code": lookup(tuple(c[0] for c in DISCOUNT_CODES), np.maximum(o_code, 0), o_code >= 0),
            "discount_amount": pa.array(np.maximum(disc, 0) / 100.0, mask=disc < 0),
            "currency": pa.array(np.full(rows.shape[0], DEFAULT_CURRENCY)),
            "device_type": lookup(DEVICE_TYPES, block.s_device[sess]),
            "browser": lookup(BROWSERS, block.s_browser[sess]),
            "country": lookup(COUNTRIES, block.s_country[sess]),
            "referrer": lookup(REFERRERS, block.s_referrer[sess]),
            "user_type": lookup(USER_TYPES, block.s_user_type[sess]),
            "campaign_id": lookup(camp.campaign_ids, camp.ad_campaign[np.maximum(ad, 0)], ad >= 0),
            "ad_id": lookup(camp.ad_ids, np.maximum(ad, 0), ad >= 0),
            "schema_version": pa.array(np.full(rows.shape[0], SCHEMA_VERSION, dtype=np.int32)),
        }
        return pa.table({f.name: columns[f.name] for f in EVENT_FIELDS}, schema=SCHEMA)
