"""Realistic, deterministic, vectorised synthetic shopper events for the landing zone.

``simulate_events`` yields clean events as Arrow tables hour by hour; ``write_landing`` writes them
as gzip JSON lines into ``landing/events/date=YYYY-MM-DD/hour=HH/`` with optional dirty data, and
each day's ad-spend CSV into ``landing/ad_spend/date=YYYY-MM-DD/``, consistent with the ad events.

Simulation: catalog (products and their companions, campaigns with costs and budgets), users (a
customer base from before the range, new users, return visits and their state), traffic (diurnal and
weekday curves), funnel (events of a session), sessions (a slot of sessions), simulate (slots to
UTC hours). Output: text and encode (vectorised JSON and Arrow), dirty (duplicates, late and
malformed lines), ad_spend (the CSVs and their bad rows), landing (files). Field names and accepted
values come from contract.events and contract.ad_spend.

Every click a campaign pays for is an ``ad_click`` event: clicks on sponsored listings inside a
session, and the click that brought a session from a campaign, which starts it (funnel.py). So the
ad-spend CSV's clicks equal the ad_click events, spend = clicks x CPC matches the marts' clicks and
cpc, and the orders arrivals bring carry their cost: last-touch ROAS per campaign lands at a few x
to about 15x, as in retail media, instead of the hundreds of x of free arrivals.
"""

from shopper_assets.generator.config import (
    AD_SPEND_BAD_KINDS,
    MALFORMED_KINDS,
    DirtyDataConfig,
    GenerateSummary,
    GeneratorConfig,
)
from shopper_assets.generator.landing import write_landing
from shopper_assets.generator.simulate import simulate_events

__all__ = [
    "AD_SPEND_BAD_KINDS",
    "MALFORMED_KINDS",
    "DirtyDataConfig",
    "GenerateSummary",
    "GeneratorConfig",
    "simulate_events",
    "write_landing",
]
