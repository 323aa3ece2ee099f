"""The one place that decides the environment: resources per deployment, with identical keys.

``SHOPPER_ENV=local`` (default) keeps everything on this machine: landing files and Parquet lake
under ``$SHOPPER_DATA_DIR``, the DuckDB warehouse file for dbt. ``prod`` swaps in S3 and Postgres
implementations under the same keys, so no asset changes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from dagster import EnvVar

from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.serving.store import LocalServingStore, PostgresServingStore
from shopper_assets.settings import Settings
from shopper_assets.storage.lake_store import LocalLakeStore


def local_resources(settings: Settings) -> dict[str, Any]:
    return {
        "landing": LocalLandingZone(data_dir=str(settings.data_dir)),
        "lake": LocalLakeStore(data_dir=str(settings.data_dir), duckdb_path=str(settings.duckdb_path)),
        "serving": LocalServingStore(serving_dir=str(settings.serving_dir), duckdb_path=str(settings.duckdb_path)),
    }


def prod_resources(settings: Settings) -> dict[str, Any]:
    """S3 landing zone and lake, Postgres warehouse. The Postgres URI is read from
    ``SHOPPER_PG_URL`` at run time (EnvVar), so it never appears in config or logs; S3 credentials
    come from the standard AWS variables. The lake cache lives under ``$SHOPPER_DATA_DIR``.

    Imported here, not at the top: every run process loads the code location, and a local one
    need not import boto3 and psycopg (0.3 s).
    """
    from shopper_assets.ingestion.s3.landing_zone import S3LandingZone
    from shopper_assets.storage.s3_lake import S3LakeStore

    return {
        "landing": S3LandingZone(bucket=settings.s3_bucket, endpoint_url=settings.aws_endpoint_url),
        "lake": S3LakeStore(
            bucket=settings.s3_bucket,
            endpoint_url=settings.aws_endpoint_url,
            pg_url=EnvVar("SHOPPER_PG_URL"),
            cache_dir=str(settings.data_dir / "lake_cache"),
        ),
        "serving": PostgresServingStore(pg_url=EnvVar("SHOPPER_PG_URL")),
    }


class Pools(NamedTuple):
    """The Dagster concurrency pools of the writing steps (their limits: dagster.yaml, deploy/prod_instance.py).

    ``lake``: the lake step, ad spend and the data-quality count. ``dbt``: the dbt builds.
    """

    lake: str
    dbt: str


#: Locally every writer of the DuckDB file (lake publish, dbt) shares the one-slot pool: DuckDB has one
#: writer per file, and a lake partition must not change under a dbt step reading it.
LOCAL_POOLS = Pools(lake="duckdb", dbt="duckdb")
#: In prod the hours of the lake are independent (own S3 folders, own rows in per-hour Postgres
#: transactions), so lake steps share a pool of several slots; dbt builds stay one at a time (two builds
#: of the same models would interleave their deletes and inserts). Pools without a limit of their own
#: get the instance's ``default_limit`` (1): ``dbt`` relies on it, ``lake`` is raised at deploy time.
PROD_POOLS = Pools(lake="lake", dbt="dbt")


def pools_for(settings: Settings) -> Pools:
    return PROD_POOLS if settings.env == "prod" else LOCAL_POOLS


def resources_for(settings: Settings) -> dict[str, Any]:
    if settings.env == "prod":
        return prod_resources(settings)
    return local_resources(settings)
