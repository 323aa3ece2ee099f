"""The landing zone in S3: ``s3://<bucket>/landing/events/date=YYYY-MM-DD/hour=HH/<name>`` and
``s3://<bucket>/landing/ad_spend/date=YYYY-MM-DD/<name>``.

Same interface as the local landing zone, so ``raw_events`` and ``ad_spend`` read S3 in prod unchanged. S3
PutObject is atomic (a reader sees the old object or the new one, never half a file), which is the
guarantee the local zone gets from write-then-rename. The client, and where its credentials come
from, is ``storage/s3_client.py``'s.
"""

from __future__ import annotations

from datetime import date, datetime

from shopper_assets.ingestion.landing import (
    AD_SPEND_PREFIX,
    AD_SPEND_SUFFIXES,
    LANDED_SUFFIXES,
    LANDING_PREFIX,
    LandingZone,
    check_file_name,
    day_folder,
    hour_folder,
)
from shopper_assets.ingestion.landing import listed as listed_name
from shopper_assets.storage.s3_client import list_keys, s3_client


class S3LandingZone(LandingZone):
    """Landing zone under ``s3://<bucket>/landing/events/`` (and ``landing/ad_spend/``); endpoint for
    MinIO/moto, else AWS."""

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    prefix: str = LANDING_PREFIX
    ad_spend_prefix: str = AD_SPEND_PREFIX

    @property
    def client(self):
        """The process's boto3 client for this endpoint and region (``storage/s3_client.py``)."""
        return s3_client(self.endpoint_url, self.region)

    def key(self, name: str) -> str:
        return f"{self.prefix.rstrip('/')}/{name}"

    def file_versions(self, hour: datetime) -> dict[str, str]:
        """Version: the object's ETag and size."""
        return self._versions(self.prefix, hour_folder(hour), None)

    def read_bytes(self, name: str) -> bytes:
        return self._read(self.key(name))

    def write_file(self, hour: datetime, filename: str, data: bytes) -> str:
        """One PutObject: atomic, and a file of the same name is replaced, never duplicated."""
        check_file_name(filename, LANDED_SUFFIXES)
        return self._put(self.prefix, f"{hour_folder(hour)}/{filename}", data)

    def ad_spend_versions(self, day: date) -> dict[str, str]:
        return self._versions(self.ad_spend_prefix, day_folder(day), AD_SPEND_SUFFIXES)

    def read_ad_spend(self, name: str) -> bytes:
        return self._read(f"{self.ad_spend_prefix.rstrip('/')}/{name}")

    def write_ad_spend(self, day: date, filename: str, data: bytes) -> str:
        check_file_name(filename, AD_SPEND_SUFFIXES)
        return self._put(self.ad_spend_prefix, f"{day_folder(day)}/{filename}", data)

    def _versions(self, prefix: str, folder: str, suffixes: tuple[str, ...] | None) -> dict[str, str]:
        """``folder/<name>`` → ``ETag:size`` of the objects directly in the folder (with ``suffixes``; None: any)."""
        listed = f"{prefix.rstrip('/')}/{folder}/"
        return {
            f"{folder}/{key[len(listed) :]}": f"{etag}:{size}"
            for key, (etag, size) in list_keys(self.client, self.bucket, listed).items()
            if "/" not in key[len(listed) :] and listed_name(key[len(listed) :], suffixes)
        }

    def _read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def _put(self, prefix: str, name: str, data: bytes) -> str:
        self.client.put_object(Bucket=self.bucket, Key=f"{prefix.rstrip('/')}/{name}", Body=data)
        return name
