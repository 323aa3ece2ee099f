"""Increments (dbt/macros/increment.sql): a day's run folds in only the lake parts it has not loaded,
reloads a day whose parts the lake replaced, and ends with exactly the tables of a full refresh."""

from __future__ import annotations

import datetime as dt

import duckdb

from tests.transform.conftest import copy_warehouse, days, run_dbt
from tests.transform.test_incremental import assert_equals_full_refresh, day_args


def loads(path, table: str, day: dt.date) -> dict:
    """Rows of ``table`` on ``day`` by load time."""
    with duckdb.connect(str(path), read_only=True) as con:
        return dict(
            con.execute(f"SELECT _loaded_at, count(*) FROM {table} WHERE event_date = ? GROUP BY 1", [day]).fetchall()
        )


def test_a_run_adds_only_the_new_part_and_rebuilds_only_what_it_touches(built_db, tmp_path):
    inc = copy_warehouse(built_db[0], tmp_path / "inc" / "shopper.duckdb")
    day = days()[1]
    run_dbt(inc, day_args(day))  # nothing new: nothing rewritten
    (before,) = loads(inc, "marts.fct_events", day)
    assert loads(inc, "intermediate.int_session_days", day).keys() == {before}
    with duckdb.connect(str(inc)) as con:  # a late page view of an existing session, in a new part file
        view, session = con.execute(
            """SELECT event_id, session_id FROM lake.cleaned_events
               WHERE CAST(event_time AS DATE) = ? AND event_type = 'page_view' ORDER BY event_id LIMIT 1""",
            [day],
        ).fetchone()
        con.execute(
            """INSERT INTO lake.cleaned_events
               SELECT * REPLACE ('late-view' AS event_id, 'part-late-view.parquet' AS _lake_part)
               FROM lake.cleaned_events WHERE event_id = ?""",
            [view],
        )
    run_dbt(inc, day_args(day))

    events = loads(inc, "marts.fct_events", day)
    assert events[before] > 1 and len(events) == 2  # the day's rows kept, one new row added
    (added,) = (at for at in events if at != before)
    assert events[added] == 1
    slices = loads(inc, "intermediate.int_session_days", day)
    assert slices[added] == 1 and slices[before] > 1  # one slice folded, the others untouched
    with duckdb.connect(str(inc), read_only=True) as con:
        assert (
            con.execute(
                "SELECT _loaded_at FROM intermediate.int_session_days WHERE session_id = ? AND event_date = ?",
                [session, day],
            ).fetchone()[0]
            == added
        )
        folded = con.execute(
            "SELECT model_name, loaded_through FROM main.shopper_increments WHERE event_date = ?", [day]
        ).fetchall()
    assert folded and all(at == added for _, at in folded)  # every model recorded the new load
    assert_equals_full_refresh(inc, tmp_path)


def test_a_day_whose_part_the_lake_replaced_is_reloaded_whole(built_db, tmp_path):
    inc = copy_warehouse(built_db[0], tmp_path / "inc" / "shopper.duckdb")
    day = days()[2]
    hour = dt.datetime.combine(day, dt.time(10))
    (before,) = loads(inc, "marts.fct_events", day)
    with duckdb.connect(str(inc)) as con:  # the lake rebuilt 10:00: new part names, one event fewer
        con.execute(
            "DELETE FROM lake.cleaned_events WHERE event_id = "
            "(SELECT min(event_id) FROM lake.cleaned_events WHERE event_hour = ?)",
            [hour],
        )
        con.execute("UPDATE lake.cleaned_events SET _lake_part = 'part-rebuilt.parquet' WHERE event_hour = ?", [hour])
    run_dbt(inc, day_args(day))

    (reloaded,) = loads(inc, "marts.fct_events", day)  # every row of the day is of the new load
    assert reloaded != before
    assert loads(inc, "marts.fct_events", days()[1]).keys() == {before}  # other days untouched
    assert_equals_full_refresh(inc, tmp_path)


def test_a_new_first_event_moves_a_campaign_arrival(built_db, tmp_path):
    """Campaign and product days fold too: an event earlier than an arrival's ad click makes it a
    click on a listing (int_campaign_touches replaces the slice's visit, int_campaign_days counts the
    day's arrivals again), a new ad click adds a touch and a click, product counts combine."""
    inc = copy_warehouse(built_db[0], tmp_path / "inc" / "shopper.duckdb")
    day = days()[1]
    arrivals_sql = (
        "SELECT arrival_clicks, clicks FROM intermediate.int_campaign_days WHERE campaign_id = ? AND event_date = ?"
    )
    with duckdb.connect(str(inc)) as con:
        click, session, campaign = con.execute(
            """SELECT e.event_id, e.session_id, e.campaign_id
               FROM lake.cleaned_events AS e
               JOIN intermediate.int_campaign_touches AS v
                 ON v.touch_type = 'campaign_visit' AND v.session_id = e.session_id
                AND v.campaign_id = e.campaign_id AND v.touch_time = e.event_time
               WHERE e.event_type = 'ad_click' AND CAST(e.event_time AS DATE) = ?
                 AND e.event_time - INTERVAL 1 SECOND >= date_trunc('hour', e.event_time)
               ORDER BY e.event_id LIMIT 1""",
            [day],
        ).fetchone()
        arrivals, clicks = con.execute(arrivals_sql, [campaign, day]).fetchone()
        product_events = con.execute(
            "SELECT sum(events) FROM intermediate.int_product_days WHERE event_date = ?", [day]
        ).fetchone()[0]
        con.execute(  # a page view a second before the arrival's click, and a second click, in a new part
            """INSERT INTO lake.cleaned_events
               SELECT * REPLACE ('early-view' AS event_id, 'page_view' AS event_type, NULL AS campaign_id,
                                 NULL AS ad_id, event_time - INTERVAL 1 SECOND AS event_time,
                                 'part-early-view.parquet' AS _lake_part)
               FROM lake.cleaned_events WHERE event_id = ?
               UNION ALL
               SELECT * REPLACE ('second-click' AS event_id, event_time + INTERVAL 1 SECOND AS event_time,
                                 'part-early-view.parquet' AS _lake_part)
               FROM lake.cleaned_events WHERE event_id = ?""",
            [click, click],
        )
        with_product = con.execute(
            "SELECT count(product_id) FROM lake.cleaned_events WHERE event_id = ?", [click]
        ).fetchone()[0]
    run_dbt(inc, day_args(day))

    with duckdb.connect(str(inc), read_only=True) as con:
        assert con.execute(arrivals_sql, [campaign, day]).fetchone() == (arrivals - 1, clicks + 1)
        assert (
            con.execute(
                "SELECT count(*) FROM intermediate.int_campaign_touches"
                " WHERE session_id = ? AND touch_type = 'ad_click'",
                [session],
            ).fetchone()[0]
            >= 2
        )
        assert (
            con.execute("SELECT sum(events) FROM intermediate.int_product_days WHERE event_date = ?", [day]).fetchone()[
                0
            ]
            == product_events + 2 * with_product
        )
        folded = dict(
            con.execute(
                "SELECT model_name, loaded_through FROM main.shopper_increments WHERE event_date = ?", [day]
            ).fetchall()
        )
    assert {"int_product_days", "int_campaign_touches", "int_campaign_days"} <= folded.keys()
    assert_equals_full_refresh(inc, tmp_path)
