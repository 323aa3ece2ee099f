"""Tests of shopper_assets.generator: contract validity, realism, determinism, dirty data, layout.

Small configs keep the module fast; every check reads what was written (or yielded) and judges it
with the contract in shopper_assets.contract.events, never with the generator's own code.
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

START = datetime.date(2026, 11, 20)  # a Friday: the 3-day range covers a weekend
ONE_DAY = GeneratorConfig(start=START, days=1, events_per_day=20_000, seed=7)
THREE_DAYS = GeneratorConfig(start=START, days=3, events_per_day=15_000, seed=11)
DIRTY = GeneratorConfig(
    start=START,
    days=1,
    events_per_day=20_000,
    seed=5,
    dirty=DirtyDataConfig(duplicate_rate=0.02, late_rate=0.03, late_max_hours=3, malformed_rate=0.01),
)

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
    "ad_click": {"search", "category", "product"},
}


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
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.jsonl.gz"))
    }


def sessions_of(events: list[dict]) -> dict[str, list[dict]]:
    by_session: dict[str, list[dict]] = collections.defaultdict(list)
    for e in events:
        by_session[e["session_id"]].append(e)
    for evs in by_session.values():
        evs.sort(key=lambda e: (e["_t"], e["event_id"]))
    return by_session


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
    assert not [p for p in root.rglob("*") if p.is_file() and p not in summary.files]  # no temp files left
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
    second = write_landing(config, tmp_path, progress=False)
    assert digest(tmp_path) == before
    assert first.files == second.files
    assert not stale.exists()


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
        for key in ("device_type", "referrer", "user_type", "browser", "country", "campaign_id"):
            assert len({e.get(key) for e in evs}) == 1 or (key == "campaign_id" and evs[0]["referrer"] != "ads")
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
    for user_sessions in by_user.values():
        user_sessions.sort(key=lambda evs: evs[0]["_t"])
        assert user_sessions[0][0]["user_type"] == "new"
        assert all(evs[0]["user_type"] == "returning" for evs in user_sessions[1:])
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
    for evs in sessions_of(events).values():
        if evs[0]["referrer"] == "ads":
            assert all(e.get("campaign_id") and e.get("ad_id") for e in evs)
            assert len({(e["campaign_id"], e["ad_id"]) for e in evs}) == 1
        impressions = [e for e in evs if e["event_type"] == "ad_impression"]
        for click in (e for e in evs if e["event_type"] == "ad_click"):
            assert any(i["_t"] <= click["_t"] and i["ad_id"] == click["ad_id"] for i in impressions)
    ad_events = [e for e in events if e["event_type"] in AD_EVENTS]
    clicks = sum(e["event_type"] == "ad_click" for e in ad_events)
    assert 0 < clicks < 0.2 * len(ad_events)
    assert 3 <= len({e["campaign_id"] for e in ad_events}) <= 20


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
    root = dirty.files[0].parents[4]
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
