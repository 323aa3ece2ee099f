"""What every dashboard page shares: the reader, the snapshot of one render, the date range,
freshness, empty states and number formats."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from shopper_assets.serving import queries
from shopper_assets.serving.marts import NOTHING_PUBLISHED, not_built_message
from shopper_assets.serving.reader import Reader, ReadError, Snapshot, open_reader

DEFAULT_DAYS = 14


@st.cache_resource
def reader() -> Reader:
    """One reader per server process; it follows each newly published version by itself."""
    return open_reader()


@dataclass(frozen=True)
class View:
    """One render of a page: its snapshot and the chosen day range (inclusive)."""

    snapshot: Snapshot
    start: date
    end: date

    def rows(self, mart: str, **filters: Any) -> pd.DataFrame:
        """A mart's rows in the range (dated marts) as a DataFrame."""
        dated = queries.SERVED[mart].date_column is not None
        kwargs = {"start": self.start, "end": self.end} if dated else {}
        return pd.DataFrame(queries.select_mart(self.snapshot, mart, equals=filters, **kwargs))

    def has(self, mart: str) -> bool:
        """Whether the mart is published; if not, say so on the page (what to run)."""
        if self.snapshot.has(mart):
            return True
        st.warning(not_built_message(mart), icon=":material/construction:")
        return False


def _freshness(snapshot: Snapshot) -> None:
    if snapshot.version is None:
        st.sidebar.caption(f"Source: {snapshot.backend}; no published version recorded")
        return
    age = snapshot.age_seconds or 0
    ago = f"{age:,.0f} s" if age < 120 else (f"{age / 60:,.0f} min" if age < 7200 else f"{age / 3600:,.1f} h")
    st.sidebar.markdown(f"**Data published {ago} ago**")
    st.sidebar.caption(f"Version `{snapshot.version}` ({snapshot.backend})")


def _pick_range(snapshot: Snapshot) -> tuple[date, date] | None:
    first, last = queries.date_bounds(snapshot, "kpi_daily") if snapshot.has("kpi_daily") else (None, None)
    if last is None:
        return None
    default = (max(first, last - timedelta(days=DEFAULT_DAYS - 1)), last)
    picked = st.sidebar.date_input("Date range (UTC)", value=default, min_value=first, max_value=last, key="range")
    if isinstance(picked, date):
        return picked, picked
    if len(picked) == 1:  # while the second day is being picked
        return picked[0], picked[0]
    return tuple(picked) if picked else default


@contextmanager
def page(title: str, caption: str) -> Iterator[View]:
    """Title, freshness, range picker and empty states; yields the render's view."""
    st.title(title)
    st.caption(caption)
    try:
        with reader().snapshot() as snapshot:
            if snapshot.version is None and not snapshot.marts:
                st.info(NOTHING_PUBLISHED, icon=":material/hourglass_empty:")
                st.stop()
            _freshness(snapshot)
            picked = _pick_range(snapshot)
            if picked is None:
                st.info(
                    "kpi_daily has no days yet: run `shopper demo`, or materialize a day of the dbt models "
                    "in the Dagster UI.",
                    icon=":material/hourglass_empty:",
                )
                st.stop()
            yield View(snapshot, *picked)
    except ReadError as exc:
        st.error(f"The published marts could not be read: {exc}")


def empty(what: str, view: View) -> None:
    st.info(f"No {what} between {view.start} and {view.end}.", icon=":material/search_off:")


def money(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"${value:,.2f}"


def count(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:,.0f}"


def pct(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{100 * value:.2f}%"


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
