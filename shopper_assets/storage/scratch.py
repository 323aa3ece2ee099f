"""Per-session scratch folders under ``<lake root>/_staging`` that a killed run cannot leave behind.

A lake session stages partitions, moves swapped-out partitions aside and lets DuckDB spill to disk
in its own folder ``_staging/<id>/``. The folder is owned through an exclusive ``flock`` on
``_staging/<id>.lock``, which the kernel releases when the owning process dies, however it dies
(``kill -9``, OOM). Opening a session sweeps every folder whose lock is free: its owner is gone. So
leftovers of a killed run last until the next session starts, and a live session (another run
sharing the root, e.g. the S3 cache) is never touched. The lock file is locked before it gets its
name (created under a temporary name, locked, renamed), so a sweeper never sees an unlocked lock
of a session that is still starting.

Folders without a lock file (written by versions before this one) are removed once idle for
``LEGACY_IDLE_S``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from pathlib import Path

SCRATCH_DIR = "_staging"
LEGACY_IDLE_S = 3600.0
PENDING_IDLE_S = 60.0  # a lock file not yet named this long after it was created: its owner died


class Scratch:
    """One session's scratch folder; ``close`` removes it (and ``open`` sweeps dead sessions' folders)."""

    def __init__(self, lake_root: Path):
        self.base = Path(lake_root) / SCRATCH_DIR
        self.id = uuid.uuid4().hex
        self.path = self.base / self.id
        self._lock_fd: int | None = None

    def open(self) -> Scratch:
        self.base.mkdir(parents=True, exist_ok=True)
        pending = self.base / f".{self.id}.lock.new"
        fd = os.open(pending, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # a brand-new file: never contended
        os.rename(pending, self.base / f"{self.id}.lock")
        self._lock_fd = fd
        self.path.mkdir()
        sweep(self.base, keep=self.id)
        return self

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock_fd is not None:
            (self.base / f"{self.id}.lock").unlink(missing_ok=True)
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def folder(self, prefix: str) -> Path:
        """A new, not yet existing path inside this session's folder."""
        return self.path / f"{prefix}-{uuid.uuid4().hex}"

    def __enter__(self) -> Scratch:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def sweep(base: Path, keep: str | None = None) -> list[str]:
    """Remove the scratch folders under ``base`` whose owner is gone; returns their ids."""
    removed = []
    for lock in base.glob("*.lock"):
        owner = lock.name.removesuffix(".lock")
        if owner == keep:
            continue
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:  # its owner closed it meanwhile
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # alive
                continue
            shutil.rmtree(base / owner, ignore_errors=True)
            lock.unlink(missing_ok=True)
            removed.append(owner)
        finally:
            os.close(fd)
    now = time.time()
    for pending in base.glob(".*.lock.new"):  # an owner that died before naming its lock
        if _idle_for(pending, now) > PENDING_IDLE_S:
            _remove_if_unlocked(pending)
    locked = {lock.name.removesuffix(".lock") for lock in base.glob("*.lock")} | {keep}
    for entry in base.iterdir():
        if entry.is_dir() and entry.name not in locked and _idle_for(entry, now) > LEGACY_IDLE_S:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _remove_if_unlocked(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path.unlink(missing_ok=True)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)


def _idle_for(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
