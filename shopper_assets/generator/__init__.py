"""Realistic, deterministic, vectorised synthetic shopper events for the landing zone.

``simulate_events`` yields clean events as Arrow tables hour by hour; ``write_landing`` writes them
as gzip JSON lines into ``landing/events/date=YYYY-MM-DD/hour=HH/`` with optional dirty data.

Simulation: catalog (products, campaigns), users (population and its state), traffic (diurnal and
weekday curves), funnel (events of a session), sessions (a slot of sessions), simulate (slots to
UTC hours). Output: text and encode (vectorised JSON and Arrow), dirty (duplicates, late and
malformed lines), landing (files). Field names and accepted values come from contract.events.
"""

from shopper_assets.generator.config import (
    MALFORMED_KINDS,
    DirtyDataConfig,
    GenerateSummary,
    GeneratorConfig,
)
from shopper_assets.generator.landing import write_landing
from shopper_assets.generator.simulate import simulate_events

__all__ = [
    "MALFORMED_KINDS",
    "DirtyDataConfig",
    "GenerateSummary",
    "GeneratorConfig",
    "simulate_events",
    "write_landing",
]
