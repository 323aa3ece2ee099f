"""Tests of shopper_assets.generator: contract validity, realism, determinism, dirty data, layout,
the ad-spend CSVs.

Small configs keep the module fast; every check reads what was written (or yielded) and judges it
with the contracts in shopper_assets.contract (and the SQL measures of bench/bench_generate.py),
never with the generator's own code; only ground truth comes from the generator: the catalog's
companion pairs and the campaigns' prices and budgets.
"""

from __future__ import annotations

import collections
import datetime
import gzip
import hashlib
import itertools
import json
import pathlib
import re

import pyarrow as pa
import pytest

from bench.bench_generate import CAMPAIGN_SQL, RETENTION_SQL, TOUCHES_SQL, load_landing  # the bench's measures
from shopper_assets.contract.ad_spend import CSV_COLUMNS, CSV_HEADER, AdSpendQuarantineReason
from shopper_assets.contract.events import (
    ACCEPTED_VALUES,
    AD_EVENTS,
    EVENT_FIELDS,
    EVENT_TYPES,
    FIELDS_BY_NAME,
    SCHEMA_VERSION,
    required_fields_for,
)
from shopper_assets.generator import (
    MALFORMED_KINDS,
    DirtyDataConfig,
    GenerateSummary,
    GeneratorConfig,
    simulate_events,
    write_landing,
)
from shopper_assets.generator.traffic import events_for_day

START = datetime.date(2026, 11, 20)  # a Friday: the 3-day range covers a weekend
ONE_DAY = GeneratorConfig(start=START, days=1, events_per_day=20_000, seed=7)
THREE_DAYS = GeneratorConfig(start=START, days=3, events_per_day=15_000, seed=11)
DIRTY = GeneratorConfig(
    start=START,
    days=1,
    events_per_day=20_000,
    seed=5,
    dirty=DirtyDataConfig(
        duplicate_rate=0.02, late_rate=0.03, late_max_hours=3, malformed_rate=0.01, ad_spend_bad_rate=0.4
    ),
)
MONTH = GeneratorConfig(start=datetime.date(2026, 11, 2), days=28, events_per_day=6_000, seed=3)  # from a Monday
CAMPAIGN_DAYS = GeneratorConfig(start=datetime.date(2026, 11, 2), days=4, events_per_day=50_000, seed=12)

LAYOUT = re.compile(r"landing/events/date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/gen-s(\d+)-(\d{10})-(\d{3})\.jsonl\.gz$")
TIME_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
GAP_30_MIN = datetime.timedelta(minutes=30)
PAGE_OF = {  # pages each event type may happen on
    "page_view": {"home", "search", "category", "cart"},
    "product_view": {"product"},
    "add_to_cart": {"product", "cart"},
    "remove_from_cart": {"cart"},
    "checkout": {"checkout"},
    "purchase": {"confirmation"},
    "ad_impression": {"search", "category", "product"},
    "ad_click": {"home", "search", "category", "product"},  # sponsored listings; an arrival's click: its landing page
}
LISTING_PAGES = PAGE_OF["ad_impression"]


# helpers -------------------------------------------------------------------------------------
def parse_time(text: str) -> datetime.datetime:
    assert TIME_FORMAT.match(text), text
    return datetime.datetime.fromisoformat(text)


def json_type_ok(value: object, json_type: str) -> bool:
    if isinstance(value, bool):
        return False
    return {
        "string": isinstance(value, str),
        "number": isinstance(value, int | float),
        "integer": isinstance(value, int),
    }[json_type]


def violations(event: dict) -> list[str]:
    """Why a parsed line is not a valid event of the contract (empty list: valid)."""
    problems = []
    for name, value in event.items():
        field = FIELDS_BY_NAME.get(name)
        if field is None:
            problems.append(f"unknown field {name}")
        elif value is not None and not json_type_ok(value, field.json_type):
            problems.append(f"wrong type {name}")
    event_type = event.get("event_type")
    if event_type not in EVENT_TYPES:
        return [*problems, "unknown event_type"]
    for name in required_fields_for(event_type):
        if event.get(name) is None:
            problems.append(f"missing {name}")
    for name, accepted in ACCEPTED_VALUES.items():
        if event.get(name) is not None and event[name] not in accepted:
            problems.append(f"not accepted {name}")
    if isinstance(event.get("price"), int | float) and event["price"] < 0:
        problems.append("negative price")
    if isinstance(event.get("quantity"), int) and event["quantity"] < 1:
        problems.append("quantity < 1")
    if isinstance(event.get("event_time"), str) and not TIME_FORMAT.match(event["event_time"]):
        problems.append("bad event_time")
    return problems


def read_lines(summary: GenerateSummary) -> list[tuple[pathlib.Path, bytes]]:
    out = []
    for path in summary.files:
        with gzip.open(path, "rb") as fh:
            out.extend((path, line) for line in fh.read().splitlines())
    return out


def folder_hour(path: pathlib.Path) -> datetime.datetime:
    m = LAYOUT.search(path.as_posix())
    assert m, path
    return datetime.datetime.strptime(f"{m.group(1)} {m.group(2)}", "%Y-%m-%d %H").replace(tzinfo=datetime.UTC)


def digest(root: pathlib.Path) -> dict[str, str]:
    """Event files and ad-spend CSVs by path."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.name.endswith((".jsonl.gz", ".csv"))
    }


def sessions_of(events: list[dict]) -> dict[str, list[dict]]:
    by_session: dict[str, list[dict]] = collections.defaultdict(list)
    for e in events:
        by_session[e["session_id"]].append(e)
    for evs in by_session.values():
        evs.sort(key=lambda e: (e["_t"], e["event_id"]))
    return by_session


def arrival_click(session: list[dict]) -> dict | None:
    """The click that brought a session from a campaign: its first event, when that is an ad_click."""
    return session[0] if session[0]["event_type"] == "ad_click" else None


def listing_clicks(session: list[dict]) -> list[dict]:
    """Clicks on sponsored listings shown in the session (every ad_click but an arrival click)."""
    return [e for e in session[1:] if e["event_type"] == "ad_click"]


# fixtures ------------------------------------------------------------------------------------
def _write(config: GeneratorConfig, root: pathlib.Path) -> tuple[GenerateSummary, list[dict]]:
    summary = write_landing(config, root, progress=False)
    events = []
    for path, line in read_lines(summary):
        event = json.loads(line)
        event["_t"] = parse_time(event["event_time"])
        event["_folder"] = folder_hour(path)
        events.append(event)
    return summary, events


@pytest.fixture(scope="module")
def one_day(tmp_path_factory) -> tuple[GenerateSummary, list[dict], pathlib.Path]:
    root = tmp_path_factory.mktemp("one_day")
    return (*_write(ONE_DAY, root), root)


@pytest.fixture(scope="module")
def three_days(tmp_path_factory) -> tuple[GenerateSummary, list[dict]]:
    return _write(THREE_DAYS, tmp_path_factory.mktemp("three_days"))


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> GenerateSummary:
    return write_landing(DIRTY, tmp_path_factory.mktemp("dirty"), progress=False)


# layout, determinism -------------------------------------------------------------------------
def test_landing_layout(one_day):
    summary, events, root = one_day
    assert summary.files and all(p.is_file() for p in summary.files)
    folders = set()
    for path in summary.files:
        m = LAYOUT.search(path.relative_to(root).as_posix())
        assert m, path
        date, hour, seed, stamp, _ = m.groups()
        assert int(seed) == ONE_DAY.seed
        assert stamp == date.replace("-", "") + hour
        folders.add((date, hour))
    assert len(folders) == 24  # one folder per UTC hour of the range
    written = set(summary.files) | set(summary.ad_spend_files)
    assert not [p for p in root.rglob("*") if p.is_file() and p not in written]  # no temp files left
    assert summary.events == summary.lines == len(events)
    assert summary.duplicates == summary.late == 0
    assert summary.malformed == dict.fromkeys(MALFORMED_KINDS, 0)


def test_same_seed_same_bytes_other_seed_other_events(one_day, tmp_path):
    _, _, root = one_day
    again = tmp_path / "again"
    write_landing(ONE_DAY, again, progress=False)
    assert digest(again) == digest(root)

    other = tmp_path / "other"
    summary = write_landing(GeneratorConfig(start=START, events_per_day=20_000, seed=8), other, progress=False)
    assert summary.files
    theirs = [json.loads(x) for x in gzip.decompress(summary.files[12].read_bytes()).splitlines()]
    mine = [json.loads(x) for x in gzip.decompress(sorted(root.rglob("*.jsonl.gz"))[12].read_bytes()).splitlines()]
    for field in ("event_time", "user_id", "product_id"):  # the simulation differs, not just the ids
        assert [e.get(field) for e in theirs] != [e.get(field) for e in mine]
    assert all("gen-s8-" in p.name for p in summary.files)


def test_rerun_overwrites_same_files(tmp_path):
    config = GeneratorConfig(start=START, events_per_day=3_000, seed=3)
    first = write_landing(config, tmp_path, progress=False)
    before = digest(tmp_path)
    stale = first.files[0].with_name(first.files[0].name.replace("-000.", "-001."))  # from a bigger earlier run
    stale.write_bytes(first.files[0].read_bytes())
    (csv,) = first.ad_spend_files
    restated = csv.with_name(csv.name.replace("-000.", "-001."))  # from an earlier run with bad ad-spend rows
    restated.write_bytes(csv.read_bytes())
    second = write_landing(config, tmp_path, progress=False)
    assert digest(tmp_path) == before
    assert first.files == second.files and first.ad_spend_files == second.ad_spend_files
    assert not stale.exists() and not restated.exists()


def test_simulate_events_schema_and_order():
    tables = list(simulate_events(GeneratorConfig(start=START, days=1, events_per_day=5_000, seed=2)))
    assert len(tables) == 24
    names = [f.name for f in EVENT_FIELDS]
    for hour, table in enumerate(tables):
        assert table.column_names == names
        assert table.schema.field("event_time").type == pa.timestamp("ms", tz="UTC")
        assert table.schema.field("price").type == pa.float64()
        assert pa.types.is_integer(table.schema.field("quantity").type)
        times = table.column("event_time").to_pylist()
        assert times == sorted(times)
        assert all(t.hour == hour for t in times)
        assert set(table.column("schema_version").to_pylist()) <= {SCHEMA_VERSION}
        prices = [p for p in table.column("price").to_pylist() if p is not None]
        assert all(round(p, 2) == p for p in prices)


def test_simulate_events_matches_landing_files(one_day):
    _, events, _ = one_day
    rows = [row for table in simulate_events(ONE_DAY) for row in table.to_pylist()]
    assert len(rows) == len(events)
    by_id = {e["event_id"]: e for e in events}
    for row in rows[::97]:
        line = by_id[row["event_id"]]
        assert line["_t"] == row["event_time"]
        for name in ("event_type", "user_id", "session_id", "product_id", "price", "order_id", "campaign_id"):
            assert line.get(name) == row[name], name


# contract --------------------------------------------------------------------------------------
def test_every_event_satisfies_the_contract(one_day, three_days):
    for _, events, *_ in (one_day, three_days):
        ids = [e["event_id"] for e in events]
        assert len(ids) == len(set(ids))
        for e in events:
            clean = {k: v for k, v in e.items() if not k.startswith("_")}
            assert violations(clean) == [], clean
            assert clean["schema_version"] == SCHEMA_VERSION
            assert clean["currency"] == "USD"
            assert e["_folder"] <= e["_t"] < e["_folder"] + datetime.timedelta(hours=1)
            assert e["page"] in PAGE_OF[e["event_type"]], e


def test_all_event_types_present(one_day):
    _, events, _ = one_day
    assert {e["event_type"] for e in events} == set(EVENT_TYPES)


# sessions and funnel ---------------------------------------------------------------------------
def test_funnel_order_within_sessions(one_day):
    _, events, _ = one_day
    orders: dict[str, list[dict]] = collections.defaultdict(list)
    for evs in sessions_of(events).values():
        seen_cart = seen_checkout = False
        checkout_orders = set()
        for e in evs:
            kind = e["event_type"]
            if kind == "add_to_cart":
                seen_cart = True
            elif kind == "checkout":
                assert seen_cart, "checkout without an add_to_cart before it"
                seen_checkout = True
                checkout_orders.add(e["order_id"])
            elif kind == "purchase":
                assert seen_checkout, "purchase without a checkout before it"
                assert e["order_id"] in checkout_orders
            if kind in ("checkout", "purchase"):
                orders[e["order_id"]].append(e)
    n_lines = []
    for order_id, evs in orders.items():
        assert sum(e["event_type"] == "checkout" for e in evs) == 1, order_id
        lines = [e for e in evs if e["event_type"] == "purchase"]
        assert len({e["session_id"] for e in evs}) == 1
        if lines:
            n_lines.append(len(lines))
            assert all(e["quantity"] >= 1 and e["price"] >= 0 and e["product_id"] for e in lines)
    assert n_lines and min(n_lines) >= 1 and max(n_lines) <= 5
    assert max(n_lines) > 1  # some orders have several lines


def test_thirty_minute_rule_both_ways(one_day):
    _, events, _ = one_day
    sessions = sessions_of(events)
    by_user: dict[str, list[tuple[datetime.datetime, datetime.datetime]]] = collections.defaultdict(list)
    for evs in sessions.values():
        assert len({e["user_id"] for e in evs}) == 1
        for key in ("device_type", "referrer", "user_type", "browser", "country"):
            assert len({e.get(key) for e in evs}) == 1
        assert len({e.get("campaign_id") for e in evs if e["event_type"] not in AD_EVENTS}) == 1
        gaps = [b["_t"] - a["_t"] for a, b in itertools.pairwise(evs)]
        assert all(g < GAP_30_MIN for g in gaps), "a gap of 30 minutes or more inside a session"
        by_user[evs[0]["user_id"]].append((evs[0]["_t"], evs[-1]["_t"]))
    multi = 0
    for spans in by_user.values():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start - end > GAP_30_MIN, "two sessions of a user less than 30 minutes apart"
            multi += 1
    assert multi > 100  # the rule is exercised: many users come back the same day


def test_diurnal_curve(one_day):
    _, events, _ = one_day
    per_hour = collections.Counter(e["_t"].hour for e in events)
    evening = sum(per_hour[h] for h in (18, 19, 20, 21)) / 4
    night = sum(per_hour[h] for h in (3, 4, 5)) / 3
    assert evening > 2.5 * night
    assert max(per_hour, key=per_hour.get) in range(17, 23)


def test_weekday_effect():
    week = GeneratorConfig(start=datetime.date(2026, 11, 16), days=7, events_per_day=2_000, seed=4)  # Mon..Sun
    per_day = collections.Counter()
    for table in simulate_events(week):
        if table.num_rows:
            per_day[table.column("event_time")[0].as_py().weekday()] += table.num_rows
    weekend = (per_day[5] + per_day[6]) / 2
    weekdays = sum(per_day[d] for d in range(5)) / 5
    assert weekend > 1.04 * weekdays
    assert sum(per_day.values()) == pytest.approx(7 * 2_000, rel=0.01)


def test_conversion_rate_and_cart_behaviour(one_day):
    _, events, _ = one_day
    sessions = sessions_of(events)
    kinds = {sid: {e["event_type"] for e in evs} for sid, evs in sessions.items()}
    buying = sum("purchase" in k for k in kinds.values())
    assert 0.02 <= buying / len(sessions) <= 0.05
    abandoned = sum("add_to_cart" in k and "purchase" not in k for k in kinds.values())
    assert abandoned > buying  # most carts are abandoned
    assert sum("remove_from_cart" in k for k in kinds.values()) > 0
    funnel = [sum(step in k for k in kinds.values()) for step in ("product_view", "add_to_cart", "checkout")]
    assert funnel[0] > funnel[1] > funnel[2] > buying


def test_users_return_and_buy_again(three_days):
    _, events = three_days
    sessions = sessions_of(events)
    by_user = collections.defaultdict(list)
    for evs in sessions.values():
        by_user[evs[0]["user_id"]].append(evs)
    first_type = collections.Counter()
    for user_sessions in by_user.values():
        user_sessions.sort(key=lambda evs: evs[0]["_t"])
        first_type[user_sessions[0][0]["user_type"]] += 1  # returning: a customer from before the range
        assert all(evs[0]["user_type"] == "returning" for evs in user_sessions[1:])
    assert first_type["new"] > first_type["returning"] > 0
    returning_days = {e["_t"].date() for e in events if e["user_type"] == "returning"}
    assert len(returning_days) == 3
    buy_days = collections.defaultdict(set)
    for e in events:
        if e["event_type"] == "purchase":
            buy_days[e["user_id"]].add(e["_t"].date())
    repeat = [u for u, days in buy_days.items() if len(days) >= 2]
    assert len(repeat) >= 10
    assert len(repeat) / len(buy_days) < 0.5  # a minority buys repeatedly


def test_ads_campaigns(one_day):
    _, events, _ = one_day
    listings_of_other_campaigns = 0
    listing_events = clicks = clicked_then_viewed = 0
    for evs in sessions_of(events).values():
        assert all(e.get("campaign_id") and e.get("ad_id") for e in evs if e["event_type"] in AD_EVENTS)
        arrival = {(e.get("campaign_id"), e.get("ad_id")) for e in evs if e["event_type"] not in AD_EVENTS}
        if evs[0]["referrer"] == "ads":  # the campaign the visit came from is on all its other events
            assert len(arrival) == 1 and None not in next(iter(arrival))
            listings_of_other_campaigns += sum(
                e["event_type"] in AD_EVENTS and e["campaign_id"] not in {c for c, _ in arrival} for e in evs[1:]
            )
        else:
            assert arrival == {(None, None)}
        impressions = [e for e in evs if e["event_type"] == "ad_impression"]
        for click in listing_clicks(evs):  # a listing is clicked where it was shown
            assert any(i["_t"] <= click["_t"] and i["ad_id"] == click["ad_id"] for i in impressions)
            assert click["page"] in LISTING_PAGES
            later = [e for e in evs if e["_t"] >= click["_t"]]
            clicked_then_viewed += any(  # a click opens the promoted product
                e["event_type"] == "product_view" and e["product_id"] == click["product_id"] for e in later
            )
        listing_events += len(impressions) + len(listing_clicks(evs))
        clicks += len(listing_clicks(evs))
    assert listings_of_other_campaigns > 0  # sponsored listings of any campaign, also in campaign visits
    assert 0 < clicks < 0.2 * listing_events
    assert clicked_then_viewed == clicks
    assert 3 <= len({e["campaign_id"] for e in events if e["event_type"] in AD_EVENTS}) <= 20


def test_arrivals_from_a_campaign_start_with_its_click(one_day):
    """A session that arrived from a campaign starts with the billed click on the campaign's ad that
    brought it: same session, user and attributes, on the landing page a few hundred ms before its
    view, for a product of the category the ad promotes; no other session starts with a click. Only
    CPC campaigns bring visitors (a CPM campaign buys on-site listings); the slot counts stay exact."""
    summary, events, _ = one_day
    assert summary.events == events_for_day(ONE_DAY.start, ONE_DAY.events_per_day)  # clicks took events' places
    promoted = collections.defaultdict(set)  # categories of a campaign's listings
    for e in events:
        if e["event_type"] == "ad_impression":
            promoted[e["campaign_id"]].add(e["category"])
    assert all(len(categories) == 1 for categories in promoted.values())
    model = cost_model(ONE_DAY.seed, ONE_DAY.events_per_day)
    arrivals = 0
    for evs in sessions_of(events).values():
        click = arrival_click(evs)
        if evs[0]["referrer"] != "ads":
            assert click is None
            continue
        assert click is not None and len(evs) >= 2, evs
        landing = evs[1]
        assert landing["event_type"] == "page_view" and landing["page"] == click["page"]
        assert datetime.timedelta(milliseconds=100) <= landing["_t"] - click["_t"] <= datetime.timedelta(seconds=1)
        assert (click["campaign_id"], click["ad_id"]) == (landing["campaign_id"], landing["ad_id"])
        assert click["category"] in promoted[click["campaign_id"]] and "price" not in click
        assert model[click["campaign_id"]][0] > 0  # a CPC campaign
        assert all(click[k] == landing[k] for k in ("user_id", "device_type", "browser", "country", "user_type"))
        arrivals += 1
    assert arrivals > 0.1 * len(sessions_of(events))
    assert {click["page"] for evs in sessions_of(events).values() if (click := arrival_click(evs))} == {
        "home",
        "search",
        "category",
    }


def test_catalog_devices_and_discounts(one_day):
    _, events, _ = one_day
    views = [e for e in events if e["event_type"] == "product_view"]

    def median_price(category: str) -> float:
        prices = sorted(e["price"] for e in views if e["category"] == category)
        return prices[len(prices) // 2]

    assert median_price("electronics") > 5 * median_price("books")
    popularity = sorted(collections.Counter(e["product_id"] for e in views).values(), reverse=True)
    assert sum(popularity[: len(popularity) // 10]) > 0.35 * len(views)  # Zipf-like skew
    devices = collections.Counter(e["device_type"] for e in events)
    assert devices["mobile"] > devices["desktop"] > devices["tablet"] > 0
    assert {e["referrer"] for e in events} == set(ACCEPTED_VALUES["referrer"])
    lines = [e for e in events if e["event_type"] == "purchase"]
    discounted = [e for e in lines if e.get("discount_code")]
    assert 0 < len(discounted) < len(lines)
    for e in discounted:
        assert 0 < e["discount_amount"] <= e["price"] * e["quantity"] * 0.25
        assert round(e["discount_amount"], 2) == e["discount_amount"]


# dirty data ------------------------------------------------------------------------------------
def classify(raw: bytes, folder: datetime.datetime) -> tuple[str, dict | None]:
    """'good' or the malformed kind of a landed line, judged from the line itself."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8", None
    try:
        event = json.loads(text)
    except json.JSONDecodeError:
        return "not_json", None
    assert isinstance(event, dict)
    problems = violations(event)
    if not problems:
        if parse_time(event["event_time"]) > folder + datetime.timedelta(days=365):
            return "future_timestamp", event
        return "good", event
    if "unknown event_type" in problems:
        return "unknown_event_type", event
    if "negative price" in problems:
        return "negative_price", event
    if any(p.startswith("wrong type") for p in problems):
        return "wrong_type", event
    if any(p.startswith("missing") for p in problems):
        return "missing_required", event
    raise AssertionError(f"unexpected problems {problems}: {raw!r}")


def test_dirty_counts_match_summary(dirty):
    summary = dirty
    lines = read_lines(summary)
    assert len(lines) == summary.lines == summary.events + summary.duplicates + sum(summary.malformed.values())
    kinds = collections.Counter()
    good: dict[str, list[tuple[datetime.datetime, bytes]]] = collections.defaultdict(list)
    event_time = {}
    malformed_ids = set()
    for path, raw in lines:
        folder = folder_hour(path)
        kind, event = classify(raw, folder)
        kinds[kind] += 1
        if kind == "good":
            good[event["event_id"]].append((folder, raw))
            event_time[event["event_id"]] = parse_time(event["event_time"])
        elif event is not None and "event_id" in event:
            malformed_ids.add(event["event_id"])
    assert {k: kinds[k] for k in MALFORMED_KINDS} == summary.malformed
    assert all(n > 0 for n in summary.malformed.values())
    assert max(summary.malformed.values()) - min(summary.malformed.values()) <= 1  # spread evenly
    assert len(good) == summary.events
    assert not malformed_ids & set(good)  # malformed lines carry fresh ids
    copies = [d for d in good.values() if len(d) > 1]
    assert all(len(d) == 2 for d in copies)
    assert len(copies) == summary.duplicates > 0
    assert all(d[0][1] == d[1][1] for d in copies)  # a duplicate is the identical JSON line
    assert any(d[0][0] == d[1][0] for d in copies) and any(d[0][0] != d[1][0] for d in copies)
    late = 0
    max_delay = datetime.timedelta(hours=DIRTY.dirty.late_max_hours)
    for event_id, deliveries in good.items():
        hour = event_time[event_id].replace(minute=0, second=0, microsecond=0)
        first = min(f for f, _ in deliveries)
        assert all(hour <= f for f, _ in deliveries)
        assert first - hour <= max_delay
        late += first > hour
    assert late == summary.late > 0


def test_malformed_lines_are_really_malformed(dirty):
    seen = collections.defaultdict(list)
    for path, raw in read_lines(dirty):
        kind, _ = classify(raw, folder_hour(path))
        seen[kind].append(raw)
    for raw in seen["invalid_utf8"]:
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    for raw in seen["not_json"]:
        with pytest.raises(json.JSONDecodeError):
            json.loads(raw)
    for raw in seen["unknown_event_type"]:
        assert json.loads(raw)["event_type"] == "teleport"
    for raw in seen["negative_price"]:
        assert json.loads(raw)["price"] < 0
    for raw in seen["missing_required"]:
        event = json.loads(raw)
        assert set(required_fields_for(event["event_type"])) - set(event)
    for raw in seen["future_timestamp"]:
        assert parse_time(json.loads(raw)["event_time"]).year >= START.year + 5


def test_dirty_data_is_deterministic(dirty, tmp_path):
    again = write_landing(DIRTY, tmp_path, progress=False)
    assert again.malformed == dirty.malformed and again.late == dirty.late
    assert again.ad_spend_bad == dirty.ad_spend_bad
    root = dirty.files[0].parents[4]
    assert any(name.endswith("-001.csv") for name in digest(root))  # the restated ad-spend file
    assert digest(tmp_path) == digest(root)


def test_config_validation():
    with pytest.raises(ValueError):
        DirtyDataConfig(duplicate_rate=1.5)
    with pytest.raises(ValueError):
        DirtyDataConfig(late_max_hours=0)
    with pytest.raises(ValueError):
        GeneratorConfig(start=START, days=0)
    with pytest.raises(TypeError):
        GeneratorConfig(start=datetime.datetime(2026, 1, 1))


def test_each_product_has_one_category_brand_and_price():
    """A product id names one catalog entry (ids must not restart per category)."""
    import duckdb

    tables = list(simulate_events(GeneratorConfig(start=datetime.date(2026, 11, 20), events_per_day=30_000, seed=9)))
    events = pa.concat_tables(tables)  # noqa: F841 - read by DuckDB
    con = duckdb.connect()
    clashes = con.execute(
        "SELECT count(*) FROM (SELECT product_id FROM events WHERE product_id IS NOT NULL GROUP BY product_id "
        "HAVING count(DISTINCT category) > 1 OR count(DISTINCT coalesce(brand, '')) > 1 "
        "OR count(DISTINCT price) > 1)"
    ).fetchone()[0]
    assert clashes == 0


# customers across days, campaigns, baskets -----------------------------------------------------------
@pytest.fixture(scope="module")
def month():
    """MONTH's clean events in DuckDB (table ``e``), judged with SQL."""
    import duckdb

    columns = ["event_type", "event_time", "user_id", "session_id", "product_id", "order_id", "referrer", "campaign_id"]
    events = pa.concat_tables(t.select(columns) for t in simulate_events(MONTH))  # noqa: F841 - read by DuckDB
    con = duckdb.connect()
    con.execute("CREATE TABLE e AS SELECT * FROM events")
    return con


def test_returning_users_from_day_one(one_day):
    """Customers from before the range: a realistic share of day 1's users is returning."""
    _, events, _ = one_day
    has_new: dict[str, bool] = collections.defaultdict(bool)
    for e in events:
        has_new[e["user_id"]] |= e["user_type"] == "new"
    returning = sum(not new for new in has_new.values())
    assert 0.3 <= returning / len(has_new) <= 0.5


def test_repeat_purchases_like_a_real_shop(month):
    """Over two weeks most buyers buy once, a minority twice, a few more often, a small tail 5+ times."""
    rows = month.execute(
        "SELECT orders, count(*) FROM (SELECT user_id, count(DISTINCT order_id) AS orders FROM e "
        "WHERE event_type = 'purchase' AND event_time < ? GROUP BY user_id) GROUP BY orders",
        [datetime.datetime(2026, 11, 16, tzinfo=datetime.UTC)],
    ).fetchall()
    buyers = sum(n for _, n in rows)
    share = collections.Counter({min(k, 5): 0.0 for k in range(1, 6)})
    for orders, n in rows:
        share[min(orders, 5)] += n / buyers
    assert buyers > 200
    assert 0.70 <= share[1] <= 0.88
    assert share[2] >= 0.08
    assert 0.02 <= share[3] + share[4] + share[5] <= 0.15
    assert share[5] > 0


def test_weekly_cohort_retention_decays_then_flattens(month):
    rows = month.execute(RETENTION_SQL).fetchall()
    rate = [n / rows[0][1] for _, n in rows]
    assert [k for k, _ in rows] == [0, 1, 2, 3]
    assert rate[1] < 0.4  # most first-week users do not come back the next week
    assert rate[1] > rate[2] > rate[3] > 0.05  # the regulars and loyal customers do
    assert rate[2] - rate[3] < 0.5 * (rate[1] - rate[2])  # flattening


def test_orders_touch_several_campaigns(month):
    """Attribution models disagree: many touched orders had several campaigns in the 7 days before."""
    _, touched, several, first_differs = month.execute(TOUCHES_SQL).fetchone()
    assert touched > 200
    assert 0.15 <= several / touched <= 0.40
    assert first_differs / touched >= 0.10


def test_every_campaign_visit_touch_is_a_click(month):
    """The touch of a visit that came from a campaign is a billed click: the session's first event is an
    ad_click of the campaign its other events carry, so no touch the marts credit is free."""
    visits, unclicked = month.execute(
        "SELECT count(*), count(*) FILTER (WHERE first_type <> 'ad_click' OR first_campaign <> campaign) FROM ("
        "  SELECT arg_min(event_type, event_time) AS first_type, arg_min(campaign_id, event_time) AS first_campaign,"
        "         min(campaign_id) FILTER (WHERE event_type NOT IN ('ad_impression', 'ad_click')) AS campaign"
        "  FROM e GROUP BY session_id) WHERE campaign IS NOT NULL"
    ).fetchone()
    assert visits > 1_000
    assert unclicked == 0


def test_companion_pairs_bought_together_far_above_chance(month):
    """Companions (the catalog's ground truth) share orders far more often than independence predicts;
    other pairs do not. Lift of a class of pairs = orders holding both / expected under independence."""
    from shopper_assets.generator.catalog import build_catalog

    catalog = build_catalog(MONTH.seed)
    companions = {
        tuple(sorted((catalog.product_ids[p], catalog.product_ids[q])))
        for p, row in enumerate(catalog.companions.tolist())
        for q in row
        if q >= 0
    }
    month.execute(
        "CREATE OR REPLACE TABLE baskets AS SELECT DISTINCT order_id, product_id FROM e WHERE event_type = 'purchase'"
    )
    n_orders = month.execute("SELECT count(DISTINCT order_id) FROM baskets").fetchone()[0]
    in_orders = dict(month.execute("SELECT product_id, count(*) FROM baskets GROUP BY product_id").fetchall())
    together = month.execute(
        "SELECT a.product_id, b.product_id, count(*) FROM baskets AS a JOIN baskets AS b "
        "ON a.order_id = b.order_id AND a.product_id < b.product_id GROUP BY ALL"
    ).fetchall()
    lines = collections.Counter(
        n for (n,) in month.execute("SELECT count(*) FROM baskets GROUP BY order_id").fetchall()
    )
    assert 0.3 <= 1 - lines[1] / n_orders <= 0.75  # multi-line orders are common
    observed = sum(k for a, b, k in together if (a, b) in companions)
    expected = sum(in_orders.get(a, 0) * in_orders.get(b, 0) for a, b in companions) / n_orders
    total = sum(in_orders.values())
    expected_all = (total**2 - sum(v * v for v in in_orders.values())) / 2 / n_orders
    other_lift = (sum(k for _, _, k in together) - observed) / (expected_all - expected)
    assert observed / expected > 5
    assert observed / expected > 5 * other_lift
    frequent = [(a, b) for a, b, k in together if k >= 3]
    assert sum(pair in companions for pair in frequent) > len(frequent) / 2  # companions top the frequent pairs


# ad spend ----------------------------------------------------------------------------------------
AD_SPEND_LAYOUT = re.compile(r"landing/ad_spend/date=(\d{4}-\d{2}-\d{2})/gen-s(\d+)-(\d{8})-(\d{3})\.csv$")


def ad_event_counts(frame) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(date, campaign_id, ad_id) -> (impressions, clicks) of clean ad events, by UTC day of event_time."""
    ads = frame[frame.event_type.isin(list(AD_EVENTS))].copy()
    ads["date"] = ads.event_time.dt.strftime("%Y-%m-%d")
    counts = ads.groupby(["date", "campaign_id", "ad_id", "event_type"]).size().unstack(fill_value=0)
    return {
        key: (int(row.get("ad_impression", 0)), int(row.get("ad_click", 0)))
        for key, row in counts.to_dict(orient="index").items()
    }


def ad_spend_rows(paths: list[pathlib.Path]) -> list[tuple[pathlib.Path, int, list[str]]]:
    """(file, line number, fields) of every data row, files in name order; checks header and encoding."""
    import csv

    rows = []
    for path in sorted(paths, key=lambda p: (p.parent.name, p.name)):
        text = path.read_bytes().decode("utf-8")
        assert text.endswith("\n")
        lines = text.splitlines()
        assert lines[0] == CSV_HEADER
        for number, fields in enumerate(csv.reader(lines[1:]), start=2):
            rows.append((path, number, fields))
    return rows


def ad_spend_reason(fields: list[str], folder_day: str) -> str | None:
    """Why a row would be quarantined by the rules of CONTRACT.md (None: valid), superseded aside."""
    if len(fields) != len(CSV_COLUMNS):
        return "invalid_csv"
    row = dict(zip(CSV_COLUMNS, fields, strict=True))
    if any(row[c] == "" for c in CSV_COLUMNS if c != "currency"):
        return "missing_required_field"
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date"]):
            raise ValueError
        datetime.date.fromisoformat(row["date"])
    except ValueError:
        return "invalid_date"
    if row["date"] != folder_day:
        return "date_outside_partition"
    numbers = (row["impressions"], row["clicks"], row["spend"])
    patterns = (r"-?\d+", r"-?\d+", r"-?\d+(\.\d+)?")
    if not all(re.fullmatch(p, v) for p, v in zip(patterns, numbers, strict=True)):
        return "invalid_number"
    if any(v.startswith("-") for v in numbers):
        return "negative_value"
    if not re.fullmatch(r"[A-Z]{3}", row["currency"] or "USD"):
        return "invalid_value"
    return None


def cost_model(seed: int, events_per_day: int):
    from shopper_assets.generator.catalog import build_campaigns, build_catalog

    campaigns = build_campaigns(seed, build_catalog(seed), events_per_day)
    return {
        cid: (int(campaigns.cpc_cents[i]), int(campaigns.cpm_cents[i]), int(campaigns.budget_cents[i]))
        for i, cid in enumerate(campaigns.campaign_ids)
    }


def test_ad_spend_csv_matches_ad_events_and_cost_model(three_days):
    import pandas as pd

    summary, events = three_days
    days = {(START + datetime.timedelta(days=d)).isoformat() for d in range(THREE_DAYS.days)}
    assert len(summary.ad_spend_files) == THREE_DAYS.days
    for path in summary.ad_spend_files:
        m = AD_SPEND_LAYOUT.search(path.as_posix())
        assert m and m.group(1) in days and m.group(3) == m.group(1).replace("-", "") and m.group(4) == "000", path
        assert int(m.group(2)) == THREE_DAYS.seed
    frame = pd.DataFrame(
        [(e["event_type"], e["_t"], e.get("campaign_id"), e.get("ad_id")) for e in events],
        columns=["event_type", "event_time", "campaign_id", "ad_id"],
    )
    expected = ad_event_counts(frame)
    rows = ad_spend_rows(summary.ad_spend_files)
    assert all(ad_spend_reason(fields, path.parent.name.removeprefix("date=")) is None for path, _, fields in rows)
    got = {(f[0], f[1], f[2]): (int(f[3]), int(f[4])) for _, _, f in rows}
    assert len(got) == len(rows) == summary.ad_spend_rows  # one row per (date, campaign, ad)
    assert got == expected
    # the clicks that brought sessions from a campaign are billed too: most of the CSV's clicks
    billed = sum(clicks for _, clicks in got.values())
    arrivals = sum(arrival_click(evs) is not None for evs in sessions_of(events).values())
    assert 0.5 * billed < arrivals < billed
    assert {f[6] for _, _, f in rows} == {"USD"}
    assert all(re.fullmatch(r"\d+\.\d{2}", f[5]) for _, _, f in rows)

    # spend: clicks x CPC + impressions x CPM / 1000 per ad, a campaign's day capped by its budget
    model = cost_model(THREE_DAYS.seed, THREE_DAYS.events_per_day)
    by_campaign_day = collections.defaultdict(list)
    for _, _, (day, campaign, _ad, imps, clicks, spend, _) in rows:
        cpc, cpm, _ = model[campaign]
        cost = (int(clicks) * cpc * 1000 + int(imps) * cpm + 500) // 1000
        by_campaign_day[(day, campaign)].append((cost, round(float(spend) * 100)))
    capped = 0
    for (_, campaign), ads in by_campaign_day.items():
        budget = model[campaign][2]
        cost = sum(c for c, _ in ads)
        if cost <= budget:
            assert [s for _, s in ads] == [c for c, _ in ads]
        else:
            capped += 1
            assert sum(s for _, s in ads) == budget
            assert all(abs(s - c * budget / cost) < 1 for c, s in ads)
    assert 0 < capped < len(by_campaign_day)  # budgets bite on some campaign days, not on all


@pytest.fixture(scope="module")
def campaign_days(tmp_path_factory):
    """CAMPAIGN_DAYS written to the landing zone and read back with DuckDB: events ``e``, ad spend ``s``."""
    import duckdb

    root = tmp_path_factory.mktemp("campaign_days")
    write_landing(CAMPAIGN_DAYS, root, progress=False)
    con = duckdb.connect()
    load_landing(con, root)
    return con


def test_campaigns_earn_a_realistic_return_on_their_spend(campaign_days):
    """With every billed click an ad_click event (arrivals included), campaign economics look like
    retail media: last-touch ROAS of a few x to about 15x and CPCs of cents to a few dollars, not the
    hundreds of x of free arrivals. Campaigns with few credited orders are too noisy to judge alone."""
    rows = campaign_days.execute(CAMPAIGN_SQL).fetchall()
    assert len(rows) == 8
    spend = sum(float(r[4]) for r in rows)
    clicks = sum(r[2] for r in rows)
    revenue = sum(float(r[7]) for r in rows)
    assert 0.5 <= spend / clicks <= 3
    assert 4 <= revenue / spend <= 15
    judged = [r for r in rows if r[6] >= 20]  # campaign, ..., orders credited by last touch, revenue, cpa, roas
    assert len(judged) >= 5
    for campaign, _, clicks, _, _, cpc, orders, _, cpa, roas in judged:
        assert 1 <= roas <= 25, (campaign, orders, roas)
        assert 0.2 <= cpc <= 4, (campaign, clicks, cpc)
        assert 5 <= cpa <= 150, (campaign, orders, cpa)


def test_dirty_ad_spend_counts_are_exact(dirty):
    """Every bad row is quarantined for exactly its kind; the winning rows still equal the ad events."""
    summary = dirty
    assert set(summary.ad_spend_bad) == set(AdSpendQuarantineReason) - {
        "invalid_utf8",
        "invalid_header",
        "unreadable_file",
    }
    assert all(n > 0 for n in summary.ad_spend_bad.values())
    reasons = collections.Counter()
    winners: dict[tuple[str, str, str], list[str]] = {}
    for path, _, fields in ad_spend_rows(summary.ad_spend_files):  # in file order: a later row wins
        reason = ad_spend_reason(fields, path.parent.name.removeprefix("date="))
        if reason is None:
            key = (fields[0], fields[1], fields[2])
            if key in winners:
                reasons["superseded"] += 1
            winners[key] = fields
        else:
            reasons[reason] += 1
    assert dict(reasons) == {k: n for k, n in summary.ad_spend_bad.items() if n}
    assert len(winners) == summary.ad_spend_rows
    clean = pa.concat_tables(
        t.select(["event_type", "event_time", "campaign_id", "ad_id"]) for t in simulate_events(DIRTY)
    )
    expected = ad_event_counts(clean.to_pandas())
    assert {k: (int(f[3]), int(f[4])) for k, f in winners.items()} == expected
