"""The readers' list of marts (serving/marts.py) agrees with the marts dbt builds: every served mart
exists once ``shopper demo`` ran, with the columns readers rely on and sort by, and the marts the
readers call whole-history (what to run when one is missing) are those of the whole-history asset."""

from __future__ import annotations

import pytest

from shopper_assets.serving.marts import SERVED
from tests.serving.conftest import WHOLE_HISTORY, Deployment


@pytest.mark.slow
def test_every_served_mart_has_the_columns_readers_use(demo: Deployment):
    columns: dict[str, set[str]] = {}
    listed = "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'marts'"
    for table, column in demo.sql(listed):
        columns.setdefault(table, set()).add(column)
    for mart in SERVED.values():
        assert mart.name in columns, f"{mart.name} is not built by shopper demo"
        used = {*mart.columns, *(spec.split()[0] for spec in mart.order_by)}
        if mart.date_column:
            used.add(mart.date_column)
        assert used <= columns[mart.name], (mart.name, sorted(used - columns[mart.name]))


def test_whole_history_marts_are_those_of_the_whole_history_asset():
    assert {m.name for m in SERVED.values() if m.grain == "whole-history"} == set(WHOLE_HISTORY)
