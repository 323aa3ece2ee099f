"""The one way this project builds an S3 client: the S3 landing zone, the S3 lake and the drop
sensor all take theirs from ``s3_client``, with the endpoint of ``AWS_ENDPOINT_URL``
(``Settings.aws_endpoint_url``, passed in by ``deployments.py`` and ``definitions.py``).

Credentials come only from boto3's standard chain (AWS_* environment variables, profiles, instance
roles): no config field holds a secret. dagster-aws's ``S3Resource`` (0.29.27 resolves against
dagster 1.13.27) would not remove code here: its ``get_client()`` builds a new boto3 session and
client on every call (so a cache would still be needed), and builds its botocore ``Config`` from
``max_attempts`` alone, so neither the connection pool (botocore's default is 10; the S3 lake's
``workers`` and the landing readers share one client, and urllib3 discards connections beyond the
pool) nor path-style addressing for MinIO/moto endpoints could be set.
"""

from __future__ import annotations

from functools import lru_cache

import boto3
from botocore.config import Config

MAX_POOL_CONNECTIONS = 32  # above every caller's thread count (the S3 lake's ``workers``, the landing readers)


@lru_cache(maxsize=8)
def s3_client(endpoint_url: str | None = None, region: str | None = None):
    """A thread-safe boto3 S3 client, shared per (endpoint, region) in this process.

    With a custom endpoint (MinIO, moto) path-style addressing is used, since such hosts rarely
    resolve ``<bucket>.<host>``. Without one, boto3 still honours ``AWS_ENDPOINT_URL``.
    """
    config = Config(
        retries={"mode": "standard", "max_attempts": 6},
        max_pool_connections=MAX_POOL_CONNECTIONS,
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config)


def list_keys(client, bucket: str, prefix: str) -> dict[str, tuple[str, int]]:
    """Every object under ``prefix``: key → (ETag, size)."""
    found: dict[str, tuple[str, int]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            found[obj["Key"]] = (obj["ETag"].strip('"'), int(obj["Size"]))
    return found
