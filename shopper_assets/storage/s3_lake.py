"""The prod lake: Parquet partitions in S3, the cleaned layer and ad spend also in Postgres for dbt.

A session computes exactly like the local one (DuckDB over Parquet files under a local root); the
root is a cache of the bucket. ``fetch`` makes the cache match S3 for the hours about to be read,
downloading only objects whose ETag or size changed. ``publish`` ships the hour folders that
``replace_window`` or ``append_window`` just swapped in: upload the files S3 does not have yet
(part files are immutable and never renamed), delete the hour prefix's other objects (so a re-run
leaves no leftovers), and for the tables of ``pg.WAREHOUSE_TABLES`` (cleaned and quarantined events,
ad spend and its quarantine) bring Postgres in line, copying only the rows of new parts
(``pg.sync_parts``). S3 is the truth; the cache can be deleted at any time. Runs may
share a cache directory when they write different partitions (the rule the local store has too);
a failed publish leaves the cache ahead of S3 only for hours whose manifest was not rewritten,
and the next fetch puts them back in line with S3.

Prod runs lake steps of different hours side by side (pool ``lake``, deployments.py), so two locks:
``writing`` holds a step's partitions for the whole step (Postgres advisory locks, so it also holds
across machines: two runs of one hour would each read the hour's parts manifest, append and publish,
and the second would drop the first's parts); and on one machine, a per-partition file lock in the
shared cache keeps a run's ``fetch`` of a neighbouring hour (the checks read around their hours)
from swapping S3's older copy over a partition another run has swapped in but not published yet.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
from botocore.exceptions import ClientError
from dagster import EnvVar
from filelock import FileLock
from pydantic import Field

from shopper_assets.contract.tables import LAKE_TABLES
from shopper_assets.contract.time_grid import hours_in
from shopper_assets.storage import postgres_warehouse as pg
from shopper_assets.storage.lake_store import (
    PARTS_MANIFEST,
    Batch,
    LakeSession,
    LakeStore,
    link_or_copy,
    partition_path,
    write_text_atomically,
)
from shopper_assets.storage.s3_client import list_keys, s3_client
from shopper_assets.storage.scratch import Scratch

log = logging.getLogger(__name__)

COPY_BATCH_ROWS = 100_000  # rows per Arrow batch streamed into the Postgres COPY
MANIFEST = "_s3_manifest.json"  # per cached hour folder: object name → [ETag, size] as last seen in S3
LOCKS = ".locks"  # under the cache root: one lock file per partition folder (see the module docstring)
CACHE_LOCK_TIMEOUT_S = 900  # a partition is held from its swap to the end of its upload and Postgres load


class S3LakeSession(LakeSession):
    """A LakeSession whose root is a local cache of ``s3://<bucket>/<prefix>/``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, root: Path, scratch: Scratch, store: S3LakeStore):
        super().__init__(con, root, scratch)
        self.store = store
        self.client = store.client
        self._fresh: set[tuple[str, datetime]] = set()  # partitions known to match S3 in this session
        self._unpublished: dict[Path, FileLock] = {}  # partitions swapped in, held until published

    def _cache_lock(self, folder: Path) -> FileLock:
        name = folder.relative_to(self.root).as_posix().replace("/", "+")
        (self.root / LOCKS).mkdir(parents=True, exist_ok=True)
        return FileLock(self.root / LOCKS / f"{name}.lock", timeout=CACHE_LOCK_TIMEOUT_S)

    # -- S3 -----------------------------------------------------------------------------------
    def _prefix(self, table: str, hour: datetime) -> str:
        return f"{self.store.prefix.strip('/')}/{partition_path(table, hour)}/"

    def _map(self, fn, items: list) -> list:
        if len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.store.workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def fetch(self, table: str, hours: list[datetime]) -> None:
        """Make the cached partitions of ``hours`` equal to S3's, downloading only what changed."""
        todo = [h for h in hours if (table, h) not in self._fresh]
        downloaded = sum(self._map(lambda h: self._fetch_hour(table, h), todo))
        self._fresh.update((table, h) for h in todo)
        if downloaded:
            log.info(
                "fetched %d objects of %s for %d hours from s3://%s", downloaded, table, len(todo), self.store.bucket
            )

    def _fetch_hour(self, table: str, hour: datetime) -> int:
        with self._cache_lock(self.root / partition_path(table, hour)):  # not while another run publishes it
            return self._fetch_hour_unlocked(table, hour)

    def _fetch_hour_unlocked(self, table: str, hour: datetime) -> int:
        prefix = self._prefix(table, hour)
        remote = {
            k[len(prefix) :]: v
            for k, v in list_keys(self.client, self.store.bucket, prefix).items()
            if _is_partition_file(k[len(prefix) :])
        }
        folder = self.root / partition_path(table, hour)
        cached = _read_manifest(folder)
        local = {p.name for p in _partition_files(folder)}
        if cached == remote and local == set(remote) and _sizes_match(folder, remote):
            return 0
        staged = self.scratch.folder("fetch")
        staged.mkdir()
        manifest, downloaded = {}, 0
        try:
            for name, (etag, size) in sorted(remote.items()):
                target = staged / name
                if cached.get(name) == (etag, size) and (folder / name).is_file():
                    link_or_copy(folder / name, target)
                    manifest[name] = (etag, size)
                    continue
                obj = self.client.get_object(Bucket=self.store.bucket, Key=prefix + name)
                with open(target, "wb") as f:
                    shutil.copyfileobj(obj["Body"], f, 1024 * 1024)
                manifest[name] = (obj["ETag"].strip('"'), int(obj["ContentLength"]))
                downloaded += 1
            _write_manifest(staged, manifest)
            LakeSession._swap(self, staged if remote else staged / "absent", folder)  # under the lock already
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        return downloaded

    def manifest(self, table: str, hour: datetime) -> list[Batch] | None:
        """The partition's write batches, read from its manifest object alone (no part file is fetched)."""
        if (table, hour) in self._fresh:
            return self.batches(table, hour)
        try:
            body = self.client.get_object(Bucket=self.store.bucket, Key=self._prefix(table, hour) + PARTS_MANIFEST)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return [] if not list_keys(self.client, self.store.bucket, self._prefix(table, hour)) else None
            raise
        try:
            return [Batch.from_json(b) for b in json.loads(body["Body"].read())["batches"]]
        except (ValueError, KeyError, TypeError):
            return None

    def _swap(self, staged: Path, target: Path) -> None:
        """Swap a written partition in and hold it (``_cache_lock``) until ``publish`` has shipped it."""
        if target not in self._unpublished:
            lock = self._cache_lock(target)
            lock.acquire()
            self._unpublished[target] = lock
        super()._swap(staged, target)

    def publish(self, table: str, hours: list[datetime]) -> None:
        """Upload the freshly swapped hours, drop their stale objects, load the warehouse tables."""
        try:
            uploaded = sum(self._map(lambda h: self._publish_hour(table, h), hours))
            self._fresh.update((table, h) for h in hours)
            log.info(
                "published %d objects of %s for %d hours to s3://%s", uploaded, table, len(hours), self.store.bucket
            )
            if table in pg.WAREHOUSE_TABLES and self.store.resolved_pg_url():
                self.load_warehouse(table, hours)
        finally:  # S3 and Postgres have the hours (or the next fetch puts the cache back in line with S3)
            for hour in hours:
                if lock := self._unpublished.pop(self.root / partition_path(table, hour), None):
                    lock.release()

    def _publish_hour(self, table: str, hour: datetime) -> int:
        prefix = self._prefix(table, hour)
        folder = self.root / partition_path(table, hour)
        remote = {k[len(prefix) :]: v for k, v in list_keys(self.client, self.store.bucket, prefix).items()}
        manifest, uploaded = {}, 0
        for path in _partition_files(folder):
            size = path.stat().st_size
            known = remote.get(path.name)
            if path.name != PARTS_MANIFEST and known is not None and known[1] == size:
                manifest[path.name] = known  # part files are immutable and never renamed: already there
                continue
            with open(path, "rb") as body:
                etag = self.client.put_object(Bucket=self.store.bucket, Key=prefix + path.name, Body=body)["ETag"]
            manifest[path.name] = (etag.strip('"'), size)
            uploaded += 1
        stale = [prefix + name for name in remote if name not in manifest]
        for i in range(0, len(stale), 1000):
            self.client.delete_objects(
                Bucket=self.store.bucket, Delete={"Objects": [{"Key": k} for k in stale[i : i + 1000]], "Quiet": True}
            )
        if folder.is_dir():
            _write_manifest(folder, manifest)
        return uploaded

    # -- Postgres -----------------------------------------------------------------------------
    def load_warehouse(self, table: str, hours: list[datetime]) -> int:
        """Bring ``hours`` of ``<pg_schema>.<table>`` in line with the cached partitions (one transaction).

        Only part files Postgres does not hold yet are copied (see ``pg.sync_parts``).
        """
        spec = LAKE_TABLES[table]
        parts = {h: self.part_names(table, h) for h in hours}

        def batches_for(todo: list[tuple[datetime, str]]) -> Iterable[pa.RecordBatch]:
            by_hour: dict[datetime, list[str]] = {}
            for hour, name in todo:
                by_hour.setdefault(hour, []).append(name)
            relation = self.scan_parts(table, by_hour, with_part=True)
            return self.con.sql(pg.export_select(spec, relation, with_part=True)).to_arrow_reader(COPY_BATCH_ROWS)

        with pg.connect(self.store.resolved_pg_url()) as conn:
            rows, whole = pg.sync_parts(conn, spec, parts, batches_for, self.store.pg_schema)
        log.info(
            "Postgres %s.%s: %d rows copied, %d of %d hours replaced whole",
            self.store.pg_schema,
            table,
            rows,
            whole,
            len(hours),
        )
        return rows


class S3LakeStore(LakeStore):
    """Lake partitions in ``s3://<bucket>/lake/<table>/date=/hour=/part-*.parquet`` (zstd; daily tables
    without ``hour=``), the tables of ``pg.WAREHOUSE_TABLES`` also in Postgres ``lake.<table>``.

    ``pg_url`` is a secret: pass ``EnvVar("SHOPPER_PG_URL")`` so it never appears in run config or
    logs; it is excluded from this resource's repr. S3 credentials are not config at all (boto3's
    standard chain). ``pg_url`` unset means lake only, no warehouse load.
    """

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    pg_url: str | None = Field(default=None, repr=False, description="libpq URI of the warehouse (secret)")
    cache_dir: str = Field(description="local cache of the bucket's lake prefix; the sessions' root")
    prefix: str = "lake"
    pg_schema: str = "lake"
    workers: int = 8  # parallel S3 transfers

    @property
    def client(self):
        """The process's boto3 client for this endpoint and region (``storage/s3_client.py``)."""
        return s3_client(self.endpoint_url, self.region)

    def resolved_pg_url(self) -> str | None:
        """The Postgres URI (an unresolved EnvVar, when used outside Dagster, is read here)."""
        if isinstance(self.pg_url, EnvVar):
            return self.pg_url.get_value()
        return self.pg_url or None

    @property
    def root(self) -> Path:
        return Path(self.cache_dir)

    def _open_session(self, con: duckdb.DuckDBPyConnection, scratch: Scratch) -> S3LakeSession:
        return S3LakeSession(con, self.root, scratch, self)

    @contextmanager
    def writing(self, family: str, start: datetime, end: datetime) -> Iterator[None]:
        """Hold the hours [start, end) of ``family`` for the step (see the module docstring): Postgres
        session advisory locks, in time order, on a connection kept open for the step; without a
        warehouse, file locks in the cache (one machine only)."""
        hours = hours_in(start, end)
        url = self.resolved_pg_url()
        if not url:
            (self.root / LOCKS).mkdir(parents=True, exist_ok=True)
            locks = [FileLock(self.root / LOCKS / f"{family}+{h:%Y-%m-%d-%H}.step.lock") for h in hours]
            try:
                for lock in locks:
                    lock.acquire()
                yield
            finally:
                for lock in reversed(locks):
                    lock.release()
            return
        with pg.connect(url) as conn:
            conn.autocommit = True
            pg.lock_hours(conn.cursor(), f"step:{family}", hours, session=True)
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock_all()")

    def publish_to_warehouse(self) -> None:
        """Make sure the warehouse tables (``pg.WAREHOUSE_TABLES``) exist for dbt-postgres, typed, even
        before any row of them was landed: a REES46 import has no ad spend, and dbt still reads
        ``lake.ad_spend``.

        Their rows are loaded as each window is published, so there is nothing else to do here.
        """
        url = self.resolved_pg_url()
        if not url:
            log.warning("S3LakeStore has no pg_url: the warehouse tables are not maintained")
            return
        with pg.connect(url) as conn:
            pg.ensure_tables(conn, [LAKE_TABLES[t] for t in pg.WAREHOUSE_TABLES], self.pg_schema)


def _is_partition_file(name: str) -> bool:
    """Objects of a partition prefix that the cache mirrors: part files and the parts manifest."""
    return "/" not in name and (name.endswith(".parquet") or name == PARTS_MANIFEST)


def _partition_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if _is_partition_file(p.name)) if folder.is_dir() else []


def _read_manifest(folder: Path) -> dict[str, tuple[str, int]]:
    try:
        return {k: (v[0], int(v[1])) for k, v in json.loads((folder / MANIFEST).read_text()).items()}
    except (OSError, ValueError, TypeError, IndexError):
        return {}


def _write_manifest(folder: Path, manifest: dict[str, tuple[str, int]]) -> None:
    write_text_atomically(folder / MANIFEST, json.dumps({k: list(v) for k, v in manifest.items()}))


def _sizes_match(folder: Path, remote: dict[str, tuple[str, int]]) -> bool:
    return all((folder / name).stat().st_size == size for name, (_, size) in remote.items())
