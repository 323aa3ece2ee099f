"""SHOPPER_ENV=prod end to end through Dagster: the assets run on S3 + Postgres with the prod
resources, and no credential shows up in logs, events, metadata, run config or reprs."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance, materialize

from shopper_assets.deployments import prod_resources, resources_for
from shopper_assets.generator import DirtyDataConfig, GeneratorConfig, write_landing
from shopper_assets.ingestion.s3.landing_zone import S3LandingZone
from shopper_assets.serving.store import LocalServingStore, PostgresServingStore
from shopper_assets.settings import Settings
from shopper_assets.storage.s3_lake import S3LakeStore
from tests.built import lake_step, landing_events
from tests.prod.conftest import AWS_SECRET, PG_SECRET
from tests.prod.helpers import s3_keys, upload_landing


def _secrets(pg_url: str) -> list[str]:
    from urllib.parse import urlsplit

    return [AWS_SECRET, *(p for p in [urlsplit(pg_url).password, PG_SECRET] if p)]


def test_prod_resources_have_the_local_keys_and_hide_the_pg_url(s3_endpoint, bucket, tmp_path):
    settings = Settings(env="prod", data_dir=tmp_path, s3_bucket=bucket, aws_endpoint_url=s3_endpoint)
    prod, local = resources_for(settings), resources_for(Settings(data_dir=tmp_path))
    assert prod.keys() == local.keys() == {"landing", "lake", "serving"}
    assert isinstance(prod["landing"], S3LandingZone) and isinstance(prod["lake"], S3LakeStore)
    assert isinstance(prod["serving"], PostgresServingStore) and isinstance(local["serving"], LocalServingStore)
    direct = S3LakeStore(bucket=bucket, pg_url=f"postgresql://u:{PG_SECRET}@db/x", cache_dir=str(tmp_path))
    assert PG_SECRET not in repr(direct) and PG_SECRET not in str(direct)
    serving = PostgresServingStore(pg_url=f"postgresql://u:{PG_SECRET}@db/x")
    assert PG_SECRET not in repr(serving) and PG_SECRET not in str(serving)


def test_dagster_run_on_s3_and_postgres_leaks_no_secret(
    s3_endpoint, s3, bucket, pg_url, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
):
    gen = tmp_path / "gen"
    dirty = DirtyDataConfig(malformed_rate=0.02, duplicate_rate=0.01)
    write_landing(GeneratorConfig(start=date(2026, 11, 20), events_per_day=3_000, seed=5, dirty=dirty), gen, False)
    upload_landing(gen, s3, bucket)
    monkeypatch.setenv("SHOPPER_PG_URL", pg_url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    settings = Settings(env="prod", data_dir=tmp_path / "data", s3_bucket=bucket, aws_endpoint_url=s3_endpoint)
    resources = prod_resources(settings)
    instance = DagsterInstance.ephemeral()

    caplog.set_level(logging.DEBUG)
    result = materialize(
        [landing_events, lake_step],
        selection=[lake_step],
        partition_key="2026-11-20-13:00",
        resources=resources,
        instance=instance,
    )
    assert result.success

    with psycopg.connect(pg_url) as conn:
        hours = conn.execute("SELECT DISTINCT event_hour FROM lake.cleaned_events").fetchall()
        quarantined = conn.execute("SELECT count(*) FROM lake.quarantined_events").fetchone()[0]
    assert hours == [(datetime(2026, 11, 20, 13),)] and quarantined > 0
    assert s3_keys(s3, bucket, "lake/cleaned_events/date=2026-11-20/hour=13/")

    texts = [caplog.text, repr(resources), str(result.dagster_run.run_config)]
    texts += [repr(e) for e in result.all_events]
    texts += [f"{e.user_message} {e.dagster_event!r}" for e in instance.all_logs(result.run_id)]
    for secret in _secrets(pg_url):
        assert all(secret not in t for t in texts), "a credential leaked into logs or metadata"
    assert any("published" in t for t in texts)  # the store's own log lines were captured
