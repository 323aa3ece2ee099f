"""Table snapshots of a warehouse, for comparing builds."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

DBT_SCHEMAS = ("staging", "intermediate", "marts")


def model_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """schema.name of every table dbt built (views excluded)."""
    rows = con.execute(
        """SELECT table_schema || '.' || table_name FROM information_schema.tables
           WHERE table_schema IN ('staging', 'intermediate', 'marts') AND table_type = 'BASE TABLE'
           ORDER BY 1"""
    ).fetchall()
    return [r[0] for r in rows]


def snapshot(path: Path, tables: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Every model table as a DataFrame with rows in a canonical order."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = tables or model_tables(con)
        out = {}
        for name in names:
            df = con.execute(f"SELECT * FROM {name}").df()
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
