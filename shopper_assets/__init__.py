"""Shopper Analytics: an asset-based data platform for e-commerce shopper behaviour on Dagster."""

import warnings

# Dagster's notes on the beta and preview APIs this project uses (partition mappings, backfill
# policies) are for its developers, not for the people running it: `shopper` and the UI stay quiet.
warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview)")
