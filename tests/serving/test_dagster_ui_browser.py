"""The Dagster UI in a real browser: ``shopper ui`` (``dagster dev``) on the demo's instance, opened in
headless Chromium. The demo's runs on the Overview under their jobs, the lake's asset graph, the
partitions of ``cleaned_events``, its check results, and the plots Dagster draws from the numeric
metadata of its materializations and checks all render."""

from __future__ import annotations

import re
import time

import duckdb
import httpx
import pytest
from playwright.sync_api import expect

from tests.serving.browser import screenshot
from tests.serving.conftest import Deployment
from tests.serving.servers import SHOPPER, free_port, running

pytestmark = pytest.mark.slow

CHECKS = (
    "unique_event_id",
    "required_fields_not_null",
    "accepted_values",
    "price_and_quantity_valid",
    "raw_reconciles",
    "quarantine_ratio",
    "volume_anomaly",
)


def check_results(demo: Deployment) -> dict[str, str]:
    """cleaned_events' checks as ``shopper demo`` reported them (PASS, WARN or FAIL); on the demo's
    clean events every blocking check passes."""
    results = {
        check: status for status, check in re.findall(r"\[(PASS|WARN|FAIL)\] cleaned_events\.(\w+)", demo.output)
    }
    assert set(results) == set(CHECKS) and "FAIL" not in results.values(), demo.output[-3000:]
    return results


@pytest.fixture(scope="module")
def dagster_ui(demo: Deployment, tmp_path_factory):
    port = free_port()
    command = [*SHOPPER, "ui", "--port", str(port)]  # as the demo says to open it
    url = f"http://127.0.0.1:{port}"
    with running(command, demo.env(), url, "/server_info", tmp_path_factory.mktemp("dagster-dev") / "dev.log") as s:
        yield s.url


@pytest.fixture
def page(chromium):
    page = chromium.new_page(viewport={"width": 1600, "height": 1100})
    # the UI greets a new browser with a "Join the Dagster community" dialog; dismiss it whenever it shows
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda button: button.click())
    yield page
    page.close()


def test_the_overview_shows_the_demos_runs_by_job(page, dagster_ui):
    """A newcomer opening the UI after the demo sees its four runs, each under its job."""
    page.goto(dagster_ui + "/overview/activity/timeline?range=24")
    page.get_by_text("shopper_assets", exact=True).first.wait_for(timeout=120_000)
    for job in ("lake_job", "marts_job", "quality_job", "history_job"):
        page.get_by_role("link", name=job).first.wait_for(timeout=60_000)  # a row of the code location's jobs
    assert page.get_by_text("No runs or scheduled ticks in this time period").count() == 0
    screenshot(page, "dagster-overview-after-demo")


def test_asset_graph_of_the_lake(page, dagster_ui, demo: Deployment):
    page.goto(dagster_ui + "/locations/shopper_assets/asset-groups/lake")
    for asset in ("raw_events", "cleaned_events", "quarantined_events"):
        page.get_by_text(asset, exact=True).first.wait_for(timeout=120_000)
    passed = [check for check, status in check_results(demo).items() if status == "PASS"]
    page.get_by_text(f"{len(passed)} / {len(CHECKS)} Passed").wait_for(timeout=60_000)  # cleaned_events' node
    edges = page.locator("svg path").count()
    screenshot(page, "dagster-asset-graph-lake")
    assert edges >= 3  # landing -> raw -> cleaned / quarantined


def test_partitions_of_cleaned_events(page, dagster_ui, demo: Deployment):
    """The partitions view counts the demo's hours, and an hour shows its own row count."""
    hour = f"{demo.days[-1]}-20:00"
    page.goto(dagster_ui + f"/assets/cleaned_events?view=partitions&partition={hour}")
    page.get_by_text(f"Materialized ({24 * len(demo.days)})").wait_for(timeout=120_000)
    expect(page.get_by_text("Failed (0)")).to_have_count(1, timeout=60_000)
    parts = demo.root / "lake" / "cleaned_events" / f"date={demo.days[-1]}" / "hour=20" / "part-*.parquet"
    with duckdb.connect() as con:
        (rows,) = con.execute(f"SELECT count(*) FROM read_parquet('{parts}')").fetchone()
    metadata = page.get_by_text("dagster/row_count", exact=True).first
    metadata.wait_for(timeout=60_000)
    page.get_by_text(str(rows), exact=True).first.wait_for(timeout=30_000)
    screenshot(page, "dagster-partitions-cleaned-events")


def test_check_results_of_cleaned_events(page, dagster_ui, demo: Deployment):
    results = check_results(demo)
    page.goto(dagster_ui + "/assets/cleaned_events?view=checks")
    page.get_by_text(f"Checks ({len(CHECKS)})").wait_for(timeout=120_000)
    # the heading renders before the rows of the list: wait for each row rather than count once
    for check in CHECKS:
        page.get_by_text(check, exact=True).first.wait_for(timeout=60_000)
    statuses = list(results.values())
    expect(page.get_by_text("Succeeded", exact=True)).to_have_count(statuses.count("PASS"), timeout=60_000)
    expect(page.get_by_text("Failed", exact=True)).to_have_count(len(CHECKS) - statuses.count("PASS"), timeout=60_000)
    page.get_by_text("quarantine_ratio", exact=True).first.click()
    page.get_by_text("Evaluation result").wait_for(timeout=60_000)
    # the check's numeric metadata (ratio, counts, window_hours) is plotted
    page.locator("canvas").first.wait_for(timeout=60_000)
    screenshot(page, "dagster-checks-cleaned-events")
    page.get_by_text("Passed", exact=True).first.wait_for(timeout=60_000)


def test_metadata_plots_of_cleaned_events(page, dagster_ui):
    page.goto(dagster_ui + "/assets/cleaned_events?view=overview")
    page.get_by_text("Plots", exact=True).click(timeout=120_000)
    page.get_by_text("Events", exact=True).last.click()  # one point per hourly materialization, over time
    for label in ("dagster/row_count", "quarantine_ratio", "duplicates_dropped", "lag_seconds", "raw_rows"):
        page.get_by_text(label, exact=True).first.wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelectorAll('canvas').length >= 5", timeout=60_000)
    screenshot(page, "dagster-plots-cleaned-events")


def test_freshness_of_a_mart_and_a_lake_table(page, dagster_ui):
    """The daemon of ``dagster dev`` judges the freshness policies; each asset page shows the verdict."""
    for asset, window in (("kpi_daily", "3 hours"), ("cleaned_events", "2 hours")):
        page.goto(dagster_ui + f"/assets/{asset}?view=overview")
        page.get_by_text("Freshness policy", exact=True).first.wait_for(timeout=120_000)
        page.get_by_text(f"Fails if more than {window} since last materialization").wait_for(timeout=60_000)
        # the demo has just built everything: passing, once the freshness daemon has evaluated it
        page.get_by_text("Passing", exact=True).first.wait_for(timeout=120_000)
        screenshot(page, f"dagster-freshness-{asset}")


def test_data_quality_score_plot(page, dagster_ui, demo: Deployment):
    """data_quality_daily's numeric metadata is plotted per day: the DQ score over time."""
    page.goto(dagster_ui + "/assets/data_quality_daily?view=overview")
    page.get_by_text("Plots", exact=True).click(timeout=120_000)
    for label in ("dq_score", "landed_lines", "clean_events", "checks_failed", "late_events"):
        page.get_by_text(label, exact=True).first.wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelectorAll('canvas').length >= 5", timeout=60_000)
    screenshot(page, "dagster-plots-data-quality")
    with duckdb.connect(str(demo.warehouse), read_only=True) as con:
        days = con.execute("SELECT count(*) FROM marts.dq_score_daily WHERE dq_score IS NOT NULL").fetchone()[0]
    assert days == len(demo.days)


FRESHNESS = """query Freshness($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) {
    assetKey { path }
    internalFreshnessPolicy { ... on TimeWindowFreshnessPolicy { failWindowSeconds warnWindowSeconds } }
    freshnessStatusInfo { freshnessStatus }
  }
}"""
DQ_METADATA = """query DataQuality {
  assetOrError(assetKey: {path: ["data_quality_daily"]}) {
    ... on Asset {
      assetMaterializations(limit: 100) {
        partition
        metadataEntries {
          label
          __typename
          ... on FloatMetadataEntry { floatValue }
          ... on IntMetadataEntry { intValue }
        }
      }
    }
  }
}"""


def graphql(url: str, query: str, **variables) -> dict:
    response = httpx.post(url + "/graphql", json={"query": query, "variables": variables}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


def test_webserver_graphql_has_freshness_verdicts_and_numeric_dq_scores(dagster_ui, demo: Deployment):
    """What the UI draws, from the webserver's GraphQL API: each watched asset's policy window and the
    freshness daemon's verdict (none for a staging model), and data_quality_daily's dq_score per day as
    a number equal to the mart's."""
    windows = {"cleaned_events": 7200, "ad_spend": 2160 * 60, "kpi_daily": 10800, "dq_score_daily": 10800}
    keys = [{"path": [key]} for key in (*windows, "stg_events")]
    deadline = time.monotonic() + 120  # the freshness daemon of `dagster dev` evaluates every 30 s
    while True:
        nodes = {n["assetKey"]["path"][0]: n for n in graphql(dagster_ui, FRESHNESS, keys=keys)["assetNodes"]}
        verdicts = {key: (node["freshnessStatusInfo"] or {}).get("freshnessStatus") for key, node in nodes.items()}
        if all(verdicts[key] == "HEALTHY" for key in windows) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert verdicts == {**dict.fromkeys(windows, "HEALTHY"), "stg_events": None}  # just built: all fresh
    for key, fail in windows.items():
        assert nodes[key]["internalFreshnessPolicy"] == {"failWindowSeconds": fail, "warnWindowSeconds": fail // 2}
    assert nodes["stg_events"]["internalFreshnessPolicy"] is None

    events = graphql(dagster_ui, DQ_METADATA)["assetOrError"]["assetMaterializations"]
    numbers = {
        e["partition"]: {m["label"]: m for m in e["metadataEntries"] if m["label"] in ("dq_score", "landed_lines")}
        for e in events
    }
    with duckdb.connect(str(demo.warehouse), read_only=True) as con:
        marts = con.execute("SELECT event_date, dq_score, landed_lines FROM marts.dq_score_daily").fetchall()
    assert len(marts) == len(demo.days)
    for day, score, landed in marts:
        entries = numbers[day.isoformat()]
        assert entries["dq_score"]["__typename"] == "FloatMetadataEntry"  # plotted: a number, not text
        assert entries["dq_score"]["floatValue"] == pytest.approx(score)
        landed_entry = entries["landed_lines"]
        assert (landed_entry["__typename"], landed_entry["intValue"]) == ("IntMetadataEntry", landed)
