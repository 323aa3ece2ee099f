"""The landing zone: hour folders of delivered event files, day folders of ad-spend files (CONTRACT.md).

``landing/events/date=YYYY-MM-DD/hour=HH/<name>.jsonl.gz`` and
``landing/ad_spend/date=YYYY-MM-DD/<name>.csv`` under the data root locally, or under
``s3://$SHOPPER_S3_BUCKET/`` in production. Assets only see this interface, so the same
``raw_events`` and ``ad_spend`` assets read a folder on disk or a prefix in S3.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

from dagster import ConfigurableResource

from shopper_assets.contract.ad_spend import LANDING_PREFIX as AD_SPEND_PREFIX

LANDING_PREFIX = "landing/events"
LANDED_SUFFIXES = (".jsonl.gz", ".jsonl")  # what the event contract lands; other files are listed too (see below)
AD_SPEND_SUFFIXES = (".csv", ".csv.gz")


def hour_folder(hour: datetime) -> str:
    """Relative folder of one UTC hour, e.g. ``date=2026-11-20/hour=13``."""
    return f"date={hour:%Y-%m-%d}/hour={hour:%H}"


def day_folder(day: date) -> str:
    """Relative folder of one UTC day of ad spend, e.g. ``date=2026-11-20``."""
    return f"date={day:%Y-%m-%d}"


def check_file_name(filename: str, suffixes: tuple[str, ...]) -> None:
    """Writers give a bare file name with one of the landed suffixes."""
    if "/" in filename or not filename.endswith(suffixes):
        wanted = " or ".join(f"*{s}" for s in suffixes)
        raise ValueError(f"landing file name must be a bare {wanted} name, got {filename!r}")


class LandingZone(ConfigurableResource):
    """Lists and reads the files landed for an hour. Subclasses decide where they are stored."""

    def list_files(self, hour: datetime) -> list[str]:
        return sorted(self.file_versions(hour))

    def file_versions(self, hour: datetime) -> dict[str, str]:
        """The hour's files with a version that changes whenever a file is rewritten.

        Every file of the folder, whatever its name (except names starting with ``.``: writes in flight),
        so a file that is not ``*.jsonl.gz`` or ``*.jsonl`` is not skipped without a word: the raw step
        quarantines it as ``unsupported_file``.
        """
        raise NotImplementedError

    def read_bytes(self, name: str) -> bytes:
        raise NotImplementedError

    def write_file(self, hour: datetime, filename: str, data: bytes) -> str:
        """Durably write one file into an hour folder, replacing a file of the same name atomically.

        Returns its name relative to the landing root. Writers name files deterministically (e.g.
        from Kafka offsets), so a batch written twice replaces itself instead of duplicating.
        """
        raise NotImplementedError

    # -- ad spend: landing/ad_spend/date=D/<name>.csv[.gz], names relative to landing/ad_spend ------
    def ad_spend_versions(self, day: date) -> dict[str, str]:
        """The day's ad-spend files (``date=D/<name>``) with a version that changes on every rewrite."""
        raise NotImplementedError

    def read_ad_spend(self, name: str) -> bytes:
        raise NotImplementedError

    def write_ad_spend(self, day: date, filename: str, data: bytes) -> str:
        """Durably and atomically write (or replace) one ad-spend file of a day; returns its name."""
        raise NotImplementedError


class LocalLandingZone(LandingZone):
    """Landing zone in a local directory: ``$SHOPPER_DATA_DIR/landing/events``."""

    data_dir: str

    @property
    def root(self) -> Path:
        return Path(self.data_dir) / LANDING_PREFIX

    @property
    def ad_spend_root(self) -> Path:
        return Path(self.data_dir) / AD_SPEND_PREFIX

    def file_versions(self, hour: datetime) -> dict[str, str]:
        """Version: size and modification time in ns (writers replace files by rename, never in place)."""
        return _versions(self.root, hour_folder(hour), None)

    def read_bytes(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def write_file(self, hour: datetime, filename: str, data: bytes) -> str:
        check_file_name(filename, LANDED_SUFFIXES)
        return _write_durably(self.root, hour_folder(hour), filename, data)

    def ad_spend_versions(self, day: date) -> dict[str, str]:
        return _versions(self.ad_spend_root, day_folder(day), AD_SPEND_SUFFIXES)

    def read_ad_spend(self, name: str) -> bytes:
        return (self.ad_spend_root / name).read_bytes()

    def write_ad_spend(self, day: date, filename: str, data: bytes) -> str:
        check_file_name(filename, AD_SPEND_SUFFIXES)
        return _write_durably(self.ad_spend_root, day_folder(day), filename, data)


def listed(name: str, suffixes: tuple[str, ...] | None) -> bool:
    """A file a landing listing includes: not a write in flight (``.name``), with one of ``suffixes`` (None: any)."""
    return not name.startswith(".") and (suffixes is None or name.endswith(suffixes))


def _versions(root: Path, folder: str, suffixes: tuple[str, ...] | None) -> dict[str, str]:
    """``folder/<name>`` → ``size:mtime_ns`` of the folder's files with the given suffixes (None: all)."""
    if not (root / folder).is_dir():
        return {}
    versions = {}
    for entry in os.scandir(root / folder):
        if listed(entry.name, suffixes) and entry.is_file():
            st = entry.stat()
            versions[f"{folder}/{entry.name}"] = f"{st.st_size}:{st.st_mtime_ns}"
    return versions


def _write_durably(root: Path, folder: str, filename: str, data: bytes) -> str:
    """Write to a temporary file, fsync, rename over the target, fsync the folder; returns ``folder/filename``."""
    target = root / folder
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f".{filename}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target / filename)
    dir_fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself is durable before the caller commits offsets
    finally:
        os.close(dir_fd)
    return f"{folder}/{filename}"
