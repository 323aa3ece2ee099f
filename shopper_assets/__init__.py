"""Shopper Analytics: an asset-based data platform for e-commerce shopper behaviour on Dagster."""
