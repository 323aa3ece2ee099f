"""The landing zone: hour folders of delivered event files (CONTRACT.md layout).

``landing/events/date=YYYY-MM-DD/hour=HH/<name>.jsonl.gz`` under the data root locally, or under
``s3://$SHOPPER_S3_BUCKET/`` in production. Assets only see this interface, so the same
``raw_events`` asset reads a folder on disk or a prefix in S3.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from dagster import ConfigurableResource

LANDING_PREFIX = "landing/events"
LANDED_SUFFIXES = (".jsonl.gz", ".jsonl")


def hour_folder(hour: datetime) -> str:
    """Relative folder of one UTC hour, e.g. ``date=2026-11-20/hour=13``."""
    return f"date={hour:%Y-%m-%d}/hour={hour:%H}"


class LandingZone(ConfigurableResource):
    """Lists and reads the files landed for an hour. Subclasses decide where they are stored."""

    def list_files(self, hour: datetime) -> list[str]:
        return sorted(self.file_versions(hour))

    def file_versions(self, hour: datetime) -> dict[str, str]:
        """The hour's files with a version that changes whenever a file is rewritten."""
        raise NotImplementedError

    def read_bytes(self, name: str) -> bytes:
        raise NotImplementedError

    def write_file(self, hour: datetime, filename: str, data: bytes) -> str:
        """Durably write one file into an hour folder, replacing a file of the same name atomically.

        Returns its name relative to the landing root. Writers name files deterministically (e.g.
        from Kafka offsets), so a batch written twice replaces itself instead of duplicating.
        """
        raise NotImplementedError


class LocalLandingZone(LandingZone):
    """Landing zone in a local directory: ``$SHOPPER_DATA_DIR/landing/events``."""

    data_dir: str

    @property
    def root(self) -> Path:
        return Path(self.data_dir) / LANDING_PREFIX

    def file_versions(self, hour: datetime) -> dict[str, str]:
        """Version: size and modification time in ns (writers replace files by rename, never in place)."""
        folder = self.root / hour_folder(hour)
        if not folder.is_dir():
            return {}
        versions = {}
        for entry in os.scandir(folder):
            if entry.name.endswith(LANDED_SUFFIXES) and entry.is_file():
                st = entry.stat()
                versions[f"{hour_folder(hour)}/{entry.name}"] = f"{st.st_size}:{st.st_mtime_ns}"
        return versions

    def read_bytes(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def write_file(self, hour: datetime, filename: str, data: bytes) -> str:
        if "/" in filename or not filename.endswith(LANDED_SUFFIXES):
            raise ValueError(f"landing file name must be a bare *.jsonl[.gz] name, got {filename!r}")
        folder = self.root / hour_folder(hour)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{filename}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / filename)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself is durable before the caller commits offsets
        finally:
            os.close(dir_fd)
        return f"{hour_folder(hour)}/{filename}"
