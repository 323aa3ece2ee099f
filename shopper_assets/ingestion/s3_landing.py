"""The landing zone in S3: ``s3://<bucket>/landing/events/date=YYYY-MM-DD/hour=HH/<name>``.

Same interface as the local landing zone, so ``raw_events`` reads S3 in prod unchanged. S3
PutObject is atomic (a reader sees the old object or the new one, never half a file), which is the
guarantee the local zone gets from write-then-rename. Credentials come only from boto3's standard
chain (AWS_* environment variables, profiles, instance roles): no config field holds a secret.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

import boto3
from botocore.config import Config
from pydantic import PrivateAttr

from shopper_assets.ingestion.landing import LANDED_SUFFIXES, LANDING_PREFIX, LandingZone, hour_folder


@lru_cache(maxsize=8)
def s3_client(endpoint_url: str | None = None, region: str | None = None):
    """A thread-safe boto3 S3 client, shared per (endpoint, region) in this process.

    With a custom endpoint (MinIO, moto) path-style addressing is used, since such hosts rarely
    resolve ``<bucket>.<host>``. Without one, boto3 still honours ``AWS_ENDPOINT_URL``.
    """
    config = Config(
        retries={"mode": "standard", "max_attempts": 6},
        max_pool_connections=32,
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


class S3LandingZone(LandingZone):
    """Landing zone under ``s3://<bucket>/landing/events/``; endpoint for MinIO/moto, else AWS."""

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    prefix: str = LANDING_PREFIX

    _client = PrivateAttr(default=None)

    @property
    def client(self):
        """The boto3 client this zone uses (the S3 drop sensor can share it)."""
        if self._client is None:
            self._client = s3_client(self.endpoint_url, self.region)
        return self._client

    def key(self, name: str) -> str:
        return f"{self.prefix.rstrip('/')}/{name}"

    def file_versions(self, hour: datetime) -> dict[str, str]:
        """Version: the object's ETag and size."""
        folder = f"{self.prefix.rstrip('/')}/{hour_folder(hour)}/"
        return {
            f"{hour_folder(hour)}/{key[len(folder) :]}": f"{etag}:{size}"
            for key, (etag, size) in list_keys(self.client, self.bucket, folder).items()
            if "/" not in key[len(folder) :] and key.endswith(LANDED_SUFFIXES)
        }

    def read_bytes(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.key(name))["Body"].read()

    def write_file(self, hour: datetime, filename: str, data: bytes) -> str:
        """One PutObject: atomic, and a file of the same name is replaced, never duplicated."""
        if "/" in filename or not filename.endswith(LANDED_SUFFIXES):
            raise ValueError(f"landing file name must be a bare *.jsonl[.gz] name, got {filename!r}")
        name = f"{hour_folder(hour)}/{filename}"
        self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data)
        return name
