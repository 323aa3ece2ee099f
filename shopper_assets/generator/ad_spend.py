"""The daily ad-spend CSV of CONTRACT.md, consistent with the generated ad events.

``write_landing`` tallies, per UTC day of event_time, the clean ``ad_impression`` and ``ad_click``
events of every ad (a bincount over each hour it renders anyway; the clicks include those that brought
sessions from a campaign, so every billed click is an event), and once a day is complete writes
``landing/ad_spend/date=YYYY-MM-DD/gen-s<seed>-<YYYYMMDD>-000.csv``: the contract's header, one row per
(date, campaign, ad) with impressions or clicks that day, spend from the campaign's cost model
(catalog.py) capped by its daily budget, currency USD.

With ``DirtyDataConfig.ad_spend_bad_rate`` the day's file also holds bad rows, kinds dealt round-robin
over AD_SPEND_BAD_KINDS, each with exactly one defect and an ad id of its own (so no bad row shares a
key with another row and each is quarantined for its one reason). A superseded row is a preliminary
figure in the day's file that a restatement in a second file (``-001``, sorting later) corrects: the
winning rows still equal the event counts. Counts per kind are exact (GenerateSummary.ad_spend_bad).
"""

from __future__ import annotations

import datetime
import os
import pathlib
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from shopper_assets.contract.ad_spend import CSV_HEADER, LANDING_PREFIX
from shopper_assets.contract.ad_spend import AdSpendQuarantineReason as Reason
from shopper_assets.contract.events import DEFAULT_CURRENCY, EVENT_TYPES
from shopper_assets.generator.catalog import Campaigns
from shopper_assets.generator.config import AD_SPEND_BAD_KINDS, GeneratorConfig
from shopper_assets.generator.dirty import stochastic_round

IMPRESSION, CLICK = EVENT_TYPES.index("ad_impression"), EVENT_TYPES.index("ad_click")
PRELIMINARY_SHARE = 0.9  # a preliminary report shows about this share of the final figures


def spend_cents(campaigns: Campaigns, impressions: np.ndarray, clicks: np.ndarray) -> np.ndarray:
    """Spend per ad in cents: clicks x CPC + impressions x CPM / 1000 (rounded half up per ad); where a
    campaign's total passes its daily budget, the budget is shared out in proportion (largest
    remainders, so the ads of a capped campaign sum to the budget exactly)."""
    campaign = campaigns.ad_campaign.astype(np.int64)
    milli = clicks * campaigns.cpc_cents[campaign] * 1000 + impressions * campaigns.cpm_cents[campaign]
    cost = (milli + 500) // 1000
    total = np.bincount(campaign, weights=cost, minlength=len(campaigns.campaign_ids)).astype(np.int64)
    budget = campaigns.budget_cents
    capped = (total > budget)[campaign]
    share = cost * budget[campaign] / np.maximum(total[campaign], 1)
    floor = np.floor(share).astype(np.int64)
    shared = np.bincount(campaign, weights=np.where(capped, floor, 0), minlength=budget.shape[0])
    left = budget - shared.astype(np.int64)
    # within each capped campaign, one more cent for the ads with the largest remainders
    order = np.lexsort((-(share - floor), campaign))
    rank = np.empty_like(order)
    starts = np.searchsorted(campaign[order], campaign[order], side="left")
    rank[order] = np.arange(order.shape[0]) - starts
    extra = capped & (rank < left[campaign])
    return np.where(capped, floor + extra, cost)


@dataclass
class AdSpendDay:
    """What one day's CSV files hold."""

    paths: list[pathlib.Path]
    rows: int  # clean (winning) rows
    bad: dict[str, int]


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


class AdSpendWriter:
    """Tallies a run's ad events by day and writes each day's CSV files once the day is complete."""

    def __init__(self, config: GeneratorConfig, campaigns: Campaigns, data_dir: pathlib.Path) -> None:
        self.config = config
        self.campaigns = campaigns
        self.data_dir = pathlib.Path(data_dir)
        n_ads = len(campaigns.ad_ids)
        self.impressions = np.zeros((config.days, n_ads), dtype=np.int64)
        self.clicks = np.zeros((config.days, n_ads), dtype=np.int64)
        self.bad = dict.fromkeys(AD_SPEND_BAD_KINDS, 0)
        self.rows = 0
        self.paths: list[pathlib.Path] = []
        self._next_kind = 0

    def add_hour(self, day_index: int, etype: np.ndarray, ad: np.ndarray) -> None:
        """Count an hour's clean ad events (``etype`` and ``ad`` of its events, vectorised)."""
        n_ads = self.impressions.shape[1]
        for counts, code in ((self.impressions, IMPRESSION), (self.clicks, CLICK)):
            counts[day_index] += np.bincount(ad[etype == code], minlength=n_ads)

    def write_day(self, day_index: int) -> AdSpendDay:
        """Write the CSV file(s) of a complete day (and remove those of an earlier run it no longer writes)."""
        day = self.config.start + datetime.timedelta(days=day_index)
        imps, clicks = self.impressions[day_index], self.clicks[day_index]
        spend = spend_cents(self.campaigns, imps, clicks)
        camp = self.campaigns
        active = np.flatnonzero((imps > 0) | (clicks > 0))
        rows = [
            [f"{day:%Y-%m-%d}", camp.campaign_ids[camp.ad_campaign[a]], camp.ad_ids[a], str(imps[a]), str(clicks[a]),
             _money(int(spend[a])), DEFAULT_CURRENCY]
            for a in active.tolist()
        ]  # fmt: skip
        lines, restated, bad = self._dirty(day, day_index, rows)
        folder = self.data_dir / LANDING_PREFIX / f"date={day:%Y-%m-%d}"
        stem = f"gen-s{self.config.seed}-{day:%Y%m%d}"
        paths = [_write_csv(folder / f"{stem}-000.csv", lines)]
        if restated:
            paths.append(_write_csv(folder / f"{stem}-001.csv", restated))
        for old in folder.glob(f"{stem}-*.csv"):
            if old not in paths:
                old.unlink()
        for kind, n in bad.items():
            self.bad[kind] += n
        self.rows += len(rows)
        self.paths.extend(paths)
        return AdSpendDay(paths, len(rows), bad)

    def _dirty(self, day: datetime.date, day_index: int, rows: list[list[str]]) -> tuple[list[str], list[str], dict]:
        """The day's lines (clean and bad rows), the restated lines and the bad-row counts per kind."""
        bad = dict.fromkeys(AD_SPEND_BAD_KINDS, 0)
        rate = self.config.dirty.ad_spend_bad_rate
        if rate == 0 or not rows:
            return [",".join(r) for r in rows], [], bad
        rng = np.random.default_rng(np.random.SeedSequence([self.config.seed, day_index, 0xAD5D]))
        k = stochastic_round(rate * len(rows), rng)
        kinds = [AD_SPEND_BAD_KINDS[(self._next_kind + i) % len(AD_SPEND_BAD_KINDS)] for i in range(k)]
        self._next_kind = (self._next_kind + k) % len(AD_SPEND_BAD_KINDS)
        lines = [",".join(r) for r in rows]
        restated: list[str] = []
        extra: list[str] = []
        can_restate = rng.permutation(len(rows)).tolist()
        for i, kind in enumerate(kinds):
            if kind == Reason.SUPERSEDED:
                if not can_restate:
                    continue
                j = can_restate.pop()
                lines[j] = ",".join(_preliminary(rows[j]))
                restated.append(",".join(rows[j]))
            else:
                template = rows[int(rng.integers(len(rows)))]
                extra.append(",".join(_broken(kind, template, day, i)))
            bad[kind] += 1
        for line in extra:  # bad rows at random places among the clean ones
            lines.insert(int(rng.integers(len(lines) + 1)), line)
        return lines, restated, bad


def _preliminary(row: list[str]) -> list[str]:
    """An earlier, lower report of the same (date, campaign, ad)."""
    date, campaign, ad, imps, clicks, spend, currency = row
    cents = int(Decimal(spend) * 100)
    low = [int(int(imps) * PRELIMINARY_SHARE), int(int(clicks) * PRELIMINARY_SHARE), int(cents * PRELIMINARY_SHARE)]
    return [date, campaign, ad, str(low[0]), str(low[1]), _money(low[2]), currency]


def _broken(kind: str, row: list[str], day: datetime.date, seq: int) -> list[str]:
    """A copy of ``row`` for an ad of its own, with exactly the defect of ``kind``."""
    date, campaign, ad, imps, clicks, spend, currency = row
    out = [date, campaign, f"{ad}-x{seq}", imps, clicks, spend, currency]
    if kind == Reason.INVALID_NUMBER:
        out[3] = "n/a"
    elif kind == Reason.NEGATIVE_VALUE:
        out[4] = f"-{int(clicks) + 1}"
    elif kind == Reason.INVALID_DATE:
        out[0] = f"{day:%Y/%m/%d}"
    elif kind == Reason.MISSING_REQUIRED_FIELD:
        out[1] = ""
    elif kind == Reason.INVALID_CSV:
        out.append("unexpected")
    elif kind == Reason.DATE_OUTSIDE_PARTITION:
        out[0] = f"{day - datetime.timedelta(days=1):%Y-%m-%d}"
    elif kind == Reason.INVALID_VALUE:
        out[6] = "DOLLAR"
    else:
        raise ValueError(f"no bad ad-spend row of kind {kind!r}")
    return out


def _write_csv(path: pathlib.Path, lines: list[str]) -> pathlib.Path:
    """Header and lines, UTF-8, written atomically (a sensor never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes("".join(f"{line}\n" for line in [CSV_HEADER, *lines]).encode("utf-8"))
    os.replace(tmp, path)
    return path
