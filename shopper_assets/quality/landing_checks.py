"""The landing-level reconciliation: every line landed in a window's folders is accounted for.

``raw_reconciles`` proves that each raw line became a cleaned row, a quarantine row or a duplicate.
This check proves the step before: that each line of each landed file reached ``raw_events``, or is
known to be waiting. The check of hour ``d`` covers the files of folder ``d`` (so every landed file is
covered by exactly one partition: its folder's). A file's lines go to the hours ``d - L .. d`` (late
events, ``L`` = SHOPPER_LATE_ARRIVAL_HOURS); every raw partition records, per landing file it read,
the file's lines and how many of them it holds (``Batch.lines``), so the check adds those up from
the manifests, without reading any data:

* lines in raw_events: held by the hours that read the file as it is now;
* waiting: lines in no hour yet while an earlier hour they can go to has not been materialized since
  the file landed (or changed), named in the metadata with those hours (only their runs can tell
  where the lines went);
* lost: lines in no hour although every hour they can go to has read the file: the check fails;
* files that could not be read in full (a damaged gzip file, a name that is not ``*.jsonl.gz`` or
  ``*.jsonl``) are quarantined, but their lost lines cannot be counted exactly: the check fails and
  names them, with what was recovered and an estimate of what was lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dagster import AssetCheckResult, AssetCheckSpec, MetadataValue

from shopper_assets.contract.time_grid import hours_in
from shopper_assets.partitions import first_hour
from shopper_assets.storage.lake_store import Batch, LakeSession

RAW = "raw_events"
SHOWN = 20  # files listed in the metadata per kind

LANDING_CHECK_SPEC = AssetCheckSpec(
    "landing_reconciles",
    asset=RAW,
    blocking=True,
    description=(
        "Every line of every file landed in the window's folders is in raw_events, or waits for a named hour; "
        "fails on a lost line and on a file that could not be read in full (damaged gzip, unsupported name)."
    ),
)


@dataclass
class LandingAccount:
    """What the check found, file by file, for the window's folders."""

    files: int = 0
    lines: int = 0
    in_raw: int = 0
    waiting: list[dict] = field(default_factory=list)  # {file, lines, hours}
    lost: list[dict] = field(default_factory=list)  # {file, lines, in_raw_events}
    uncounted: list[str] = field(default_factory=list)  # read before line counts were recorded
    unreadable: list[dict] = field(default_factory=list)  # {file, problem}

    @property
    def waiting_lines(self) -> int:
        return sum(w["lines"] for w in self.waiting)

    @property
    def lost_lines(self) -> int:
        return sum(x["lines"] for x in self.lost)


def account(
    session: LakeSession, versions: dict[datetime, dict[str, str]], start: datetime, end: datetime, late_hours: int
) -> LandingAccount:
    """Account for the files of the folders ``[start, end)`` as listed in ``versions`` (folder → name → version)."""
    partitions_from = first_hour()
    first = max(start - timedelta(hours=late_hours), partitions_from)
    read: dict[datetime, dict[str, Batch]] = {}  # per hour: the batch that read each landing file
    for hour in hours_in(first, end):
        read[hour] = {name: b for b in session.manifest(RAW, hour) or [] for name in b.inputs}
    result = LandingAccount()
    for folder in hours_in(start, end):
        routable = hours_in(max(folder - timedelta(hours=late_hours), partitions_from), folder + timedelta(hours=1))
        for name, version in sorted(versions.get(folder, {}).items()):
            _account_file(result, name, version, routable, read)
    result.unreadable = _unreadable(session, start, end)
    return result


def _account_file(
    result: LandingAccount, name: str, version: str, routable: list[datetime], read: dict[datetime, dict[str, Batch]]
) -> None:
    result.files += 1
    batches = {h: read[h].get(name) for h in routable}
    read_by = {h: b for h, b in batches.items() if b is not None and b.inputs[name] == version}
    unread = [h for h in routable if h not in read_by]
    counts = [b.lines.get(name) if b.lines else None for b in read_by.values()]
    if not read_by:  # not even its own hour read it: it landed after this run listed the folder
        result.waiting.append({"file": name, "lines": 0, "hours": [_key(h) for h in unread], "note": "not read yet"})
        return
    if any(c is None for c in counts):
        result.uncounted.append(name)
        return
    total, in_raw = counts[0][0], sum(c[1] for c in counts)
    result.lines += total
    result.in_raw += min(in_raw, total)
    missing = total - in_raw
    if missing > 0 and unread:
        result.waiting.append({"file": name, "lines": missing, "hours": [_key(h) for h in unread]})
    elif missing:  # in no hour although all have read it, or (never seen) held more often than it has lines
        result.lost.append({"file": name, "lines": abs(missing), "in_raw_events": in_raw, "lines_in_file": total})


def _unreadable(session: LakeSession, start: datetime, end: datetime) -> list[dict]:
    """Files of the window's folders whose raw lines include the line 0 standing for the whole file
    (it stays in the hour of its folder); row-group statistics skip the parts without one."""
    rows = session.con.execute(
        f"SELECT DISTINCT source_file, line FROM ({session.scan(RAW, start, end)}) WHERE line_number = 0 ORDER BY 1"
    ).fetchall()
    return [{"file": name, "problem": problem} for name, problem in rows]


def landing_reconciles(
    session: LakeSession, versions: dict[datetime, dict[str, str]], start: datetime, end: datetime, late_hours: int
) -> AssetCheckResult:
    a = account(session, versions, start, end, late_hours)
    problems = []
    if a.lost:
        problems.append(f"{a.lost_lines:,} lines of {len(a.lost)} files do not add up in raw_events (see 'lost')")
    if a.unreadable:
        problems.append(
            f"{len(a.unreadable)} files could not be read in full: their readable lines are in raw_events, the rest "
            "is lost (see 'unreadable_files'); replace them with complete files, or remove them once accepted"
        )
    summary = f"{a.files} files, {a.lines:,} lines: {a.in_raw:,} in raw_events, {a.waiting_lines:,} waiting"
    if a.waiting:
        summary += f" for hours not materialized since they landed ({len(a.waiting)} files)"
    if a.uncounted:
        summary += f"; {len(a.uncounted)} files read before line counts were kept (re-materialize to count)"
    return AssetCheckResult(
        check_name="landing_reconciles",
        asset_key=RAW,
        passed=not problems,
        description="; ".join([*problems, summary]),
        metadata={
            "files": a.files,
            "lines": a.lines,
            "lines_in_raw_events": a.in_raw,
            "waiting_lines": a.waiting_lines,
            "lost_lines": a.lost_lines,
            "unreadable_file_count": len(a.unreadable),
            "uncounted_files": len(a.uncounted),
            "waiting": MetadataValue.json(a.waiting[:SHOWN]),
            "lost": MetadataValue.json(a.lost[:SHOWN]),
            "unreadable_files": MetadataValue.json(a.unreadable[:SHOWN]),
            "window_hours": len(hours_in(start, end)),  # as the other lake checks: the run's window
        },
    )


def _key(hour: datetime) -> str:
    return f"{hour:%Y-%m-%d-%H}:00"
