"""Data-quality checks on the lake, as Dagster asset checks."""
