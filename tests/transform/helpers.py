"""Table snapshots of a warehouse, for comparing builds."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

DBT_SCHEMAS = ("staging", "intermediate", "marts")
REL = 1e-9


def model_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """schema.name of every table dbt built (views excluded)."""
    rows = con.execute(
        """SELECT table_schema || '.' || table_name FROM information_schema.tables
           WHERE table_schema IN ('staging', 'intermediate', 'marts') AND table_type = 'BASE TABLE'
           ORDER BY 1"""
    ).fetchall()
    return [r[0] for r in rows]


#: When a row was loaded (macros/increment.sql): differs between two builds of the same data by design.
LOAD_TIME = "_loaded_at"


def snapshot(path: Path, tables: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Every model table as a DataFrame with rows in a canonical order, without the load time."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = tables or model_tables(con)
        out = {}
        for name in names:
            df = con.execute(f"SELECT * FROM {name}").df().drop(columns=LOAD_TIME, errors="ignore")
            out[name] = df.sort_values(list(df.columns), kind="mergesort", na_position="last").reset_index(drop=True)
        return out


def assert_same_table(name: str, a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal rows; float columns (averages) within 1e-12 relative, everything else exact."""
    assert list(a.columns) == list(b.columns), name
    assert len(a) == len(b), f"{name}: {len(a)} rows vs {len(b)}"
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            ok = np.isclose(x.to_numpy(), y.to_numpy(), rtol=1e-12, atol=0, equal_nan=True)
            assert ok.all(), f"{name}.{col} differs: {x[~ok].head().tolist()} vs {y[~ok].head().tolist()}"
        else:
            diff = ~((x == y) | (x.isna() & y.isna()))
            assert not diff.any(), f"{name}.{col} differs: {x[diff].head().tolist()} vs {y[diff].head().tolist()}"


def assert_matches(
    actual: pd.DataFrame,
    expected: pd.DataFrame,
    keys: list[str],
    exact: list[str],
    money: dict[str, str],
    ratios: list[str],
):
    """Rows match on keys; exact columns equal, money (db column -> reference cents column) and
    ratios equal within 1e-9 relative."""
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}"
    merged = actual.merge(expected, on=keys, how="outer", suffixes=("", "_ref"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][keys].head()
    for col in exact:
        ref = col + "_ref"
        assert ref in merged, f"the reference has no column {col}"
        got, want = merged[col], merged[ref]
        if pd.api.types.is_numeric_dtype(got) and pd.api.types.is_numeric_dtype(want):
            got, want = got.astype("int64"), want.astype("int64")
        bad = merged[got.astype(object) != want.astype(object)]
        assert bad.empty, f"{col}: {bad[[*keys, col, ref]].head()}"
    for col, cents in money.items():
        for got, want in zip(merged[col], merged[cents], strict=True):
            assert math.isclose(float(got), want / 100, rel_tol=REL, abs_tol=1e-9), (col, got, want)
    for col in ratios:
        ref = col + "_ref"
        for got, want in zip(merged[col], merged[ref], strict=True):
            if want is None or (isinstance(want, float) and math.isnan(want)):
                assert got is None or math.isnan(got), (col, got, want)
            else:
                assert math.isclose(float(got), float(want), rel_tol=REL), (col, got, want)
