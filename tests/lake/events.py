"""Hand-built contract events for lake tests."""

from __future__ import annotations

from datetime import datetime
from itertools import count

_ids = count(1)


def event(event_type: str = "page_view", at: datetime = datetime(2026, 11, 20, 10, 15), **overrides) -> dict:
    """A valid event of the given type at a UTC time; keyword arguments override or (None) drop fields."""
    e = {
        "event_id": f"evt-{next(_ids):08d}",
        "event_type": event_type,
        "event_time": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
        "user_id": "u-1",
        "session_id": "s-1",
        "page": "home",
        "device_type": "mobile",
        "browser": "chrome",
        "country": "US",
        "referrer": "direct",
        "user_type": "new",
        "currency": "USD",
        "schema_version": 1,
    }
    if event_type in ("product_view", "add_to_cart", "remove_from_cart", "purchase"):
        e.update(page="product", product_id="p-1", category="books", brand="acme", price=12.5)
    if event_type in ("add_to_cart", "remove_from_cart", "purchase"):
        e["quantity"] = 2
    if event_type in ("checkout", "purchase"):
        e["order_id"] = "o-1"
        e["page"] = "checkout" if event_type == "checkout" else "confirmation"
    if event_type in ("ad_impression", "ad_click"):
        e.update(campaign_id="c-1", ad_id="ad-1")
    for key, value in overrides.items():
        if value is None:
            e.pop(key, None)
        else:
            e[key] = value
    return e
