"""The one place that decides the environment: resources per deployment, with identical keys.

``SHOPPER_ENV=local`` (default) keeps everything on this machine: landing files and Parquet lake
under ``$SHOPPER_DATA_DIR``, the DuckDB warehouse file for dbt. ``prod`` swaps in S3 and Postgres
implementations under the same keys, so no asset changes.
"""

from __future__ import annotations

from typing import Any

from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.settings import Settings
from shopper_assets.storage.lake_store import LocalLakeStore


def local_resources(settings: Settings) -> dict[str, Any]:
    return {
        "landing": LocalLandingZone(data_dir=str(settings.data_dir)),
        "lake": LocalLakeStore(data_dir=str(settings.data_dir), duckdb_path=str(settings.duckdb_path)),
    }


def resources_for(settings: Settings) -> dict[str, Any]:
    if settings.env == "prod":
        raise NotImplementedError("SHOPPER_ENV=prod (S3 + Postgres) is not available yet; use SHOPPER_ENV=local")
    return local_resources(settings)
