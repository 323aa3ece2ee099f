"""Incidents and the alerts they send: one "firing" when an incident opens, one "resolved" when it clears.

An incident has a key saying *what* is broken, so a repeat of the same breakage (a retried run
failing again, the next tick of a dead broker, one more stale mart) finds it open and sends nothing:

* ``check_failed:<asset>:<partitions>`` - a run failed because blocking checks of ``asset`` failed
  on those partitions; cleared by a successful run that evaluated the same checks over (at least)
  the same partitions;
* ``run_failed:<assets>:<partitions>`` - a run failed for another reason; cleared by a successful
  run of (at least) the same assets and partitions;
* ``stale:<group>`` - assets of a group failed their freshness policy; cleared once none of them does;
* ``kafka_unavailable`` / ``kafka_lag`` - the consumer could not reach Kafka / its lag is above the
  threshold; cleared by a health record that says otherwise.

Nothing here reads Dagster's instance: the alert sensor feeds what it read, so the rules are tested
on their own.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

FIRING, RESOLVED = "firing", "resolved"
RUN_FAILED, CHECK_FAILED, STALE = "run_failed", "check_failed", "stale"
KAFKA_UNAVAILABLE, KAFKA_LAG = "kafka_unavailable", "kafka_lag"

Window = tuple[str, str] | None  # (first, last) partition key of a run; None: unpartitioned


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def partition_label(window: Window) -> str | None:
    """``2026-11-20-13:00``, or ``first...last`` for a range (Dagster's range syntax)."""
    if window is None:
        return None
    first, last = window
    return first if first == last else f"{first}...{last}"


def covers(outer: Window, inner: Window) -> bool:
    """Whether partition range ``outer`` holds all of ``inner`` (keys of one partitioning compare as text)."""
    if outer is None or inner is None:
        return outer is None and inner is None
    if len(outer[0]) != len(inner[0]):  # hourly against daily keys
        return False
    return outer[0] <= inner[0] and inner[1] <= outer[1]


@dataclass(frozen=True)
class Alert:
    """One message to the destinations (the webhook's JSON body is ``payload()``)."""

    kind: str
    status: str
    incident: str
    message: str
    asset: str | None = None
    run_id: str | None = None
    partition: str | None = None
    url: str | None = None
    assets: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    at: str = field(default_factory=now_iso)

    def payload(self) -> dict:
        body = asdict(self)
        body["assets"], body["checks"] = list(self.assets), list(self.checks)
        return body

    @property
    def title(self) -> str:
        """``[FIRING] check_failed cleaned_events 2026-11-20-13:00``: e-mail subject, first line of a chat message."""
        subject = self.asset or (f"run {self.run_id[:8]}" if self.run_id else None)
        return " ".join(p for p in (f"[{self.status.upper()}]", self.kind, subject, self.partition) if p)

    @property
    def text(self) -> str:
        """Plain text for chat and e-mail: the title, the message, and a link."""
        lines = [self.title, self.message]
        if self.url:
            lines.append(self.url)
        return "\n".join(lines)

    @classmethod
    def from_payload(cls, body: dict) -> Alert:
        return cls(**{**body, "assets": tuple(body.get("assets") or ()), "checks": tuple(body.get("checks") or ())})


@dataclass(frozen=True)
class Incident:
    """An open incident, as the alert sensor keeps it in its cursor."""

    key: str
    kind: str
    message: str
    asset: str | None = None
    run_id: str | None = None
    window: Window = None
    url: str | None = None
    assets: tuple[str, ...] = ()  # the run's selection, or the stale assets
    checks: tuple[str, ...] = ()  # "asset:check" of the failed checks
    opened_at: str = field(default_factory=now_iso)
    repeats: int = 0  # how often it was seen again while open (nothing sent for those)

    def alert(self, status: str, message: str | None = None, run_id: str | None = None, url: str | None = None):
        return Alert(
            kind=self.kind,
            status=status,
            incident=self.key,
            message=message or self.message,
            asset=self.asset,
            run_id=run_id or self.run_id,
            partition=partition_label(self.window),
            url=url or self.url,
            assets=self.assets,
            checks=self.checks,
        )

    def to_json(self) -> dict:
        body = asdict(self)
        body["window"] = list(self.window) if self.window else None
        body["assets"], body["checks"] = list(self.assets), list(self.checks)
        return body

    @classmethod
    def from_json(cls, body: dict) -> Incident:
        window = tuple(body["window"]) if body.get("window") else None
        return cls(**{**body, "window": window, "assets": tuple(body["assets"]), "checks": tuple(body["checks"])})


def selection_label(assets: tuple[str, ...]) -> str:
    """A short stable name for a run's asset selection (a key part, not for reading)."""
    if len(assets) <= 3:
        return ",".join(assets) or "job"
    digest = hashlib.sha1(",".join(assets).encode()).hexdigest()[:8]
    return f"{assets[0]}+{len(assets) - 1}:{digest}"


@dataclass(frozen=True)
class FinishedRun:
    """What the rules need to know about a run that ended (read from the instance by the sensor)."""

    run_id: str
    success: bool
    assets: tuple[str, ...]  # sorted asset keys of its selection ("a/b" for multi-part keys)
    window: Window
    url: str
    failed_checks: tuple[str, ...] = ()  # "asset:check" of blocking checks that failed (ERROR severity)
    passed_checks: tuple[str, ...] = ()
    error: str = ""  # the first step failure, or the run's failure message


@dataclass
class IncidentBook:
    """The open incidents; each change returns the alerts to send (none for a repeat)."""

    open: dict[str, Incident] = field(default_factory=dict)

    def fire(self, incident: Incident) -> list[Alert]:
        known = self.open.get(incident.key)
        if known is not None:
            self.open[incident.key] = replace(known, repeats=known.repeats + 1)
            return []
        self.open[incident.key] = incident
        return [incident.alert(FIRING)]

    def resolve(self, key: str, message: str, run_id: str | None = None, url: str | None = None) -> list[Alert]:
        incident = self.open.pop(key, None)
        return [] if incident is None else [incident.alert(RESOLVED, message, run_id, url)]

    # -- runs ------------------------------------------------------------------------------------
    def run_finished(self, run: FinishedRun) -> list[Alert]:
        return self._run_succeeded(run) if run.success else self._run_failed(run)

    def _run_failed(self, run: FinishedRun) -> list[Alert]:
        label = partition_label(run.window)
        where = f" for {label}" if label else ""
        if run.failed_checks:
            by_asset: dict[str, list[str]] = {}
            for check in run.failed_checks:
                asset, _, name = check.partition(":")
                by_asset.setdefault(asset, []).append(name)
            alerts = []
            for asset, names in sorted(by_asset.items()):
                alerts += self.fire(
                    Incident(
                        key=f"{CHECK_FAILED}:{asset}:{label or '-'}",
                        kind=CHECK_FAILED,
                        message=f"Blocking check{'s' if len(names) > 1 else ''} {', '.join(sorted(names))} "
                        f"of {asset} failed{where}: the assets downstream were not updated. Run {run.run_id}.",
                        asset=asset,
                        run_id=run.run_id,
                        window=run.window,
                        url=run.url,
                        assets=run.assets,
                        checks=tuple(sorted(f"{asset}:{n}" for n in names)),
                    )
                )
            return alerts
        error = run.error.strip().splitlines()[0] if run.error.strip() else "no error message"
        return self.fire(
            Incident(
                key=f"{RUN_FAILED}:{selection_label(run.assets)}:{label or '-'}",
                kind=RUN_FAILED,
                message=f"Run {run.run_id} of {_describe(run.assets)}{where} failed: {error}",
                asset=run.assets[0] if len(run.assets) == 1 else None,
                run_id=run.run_id,
                window=run.window,
                url=run.url,
                assets=run.assets,
            )
        )

    def _run_succeeded(self, run: FinishedRun) -> list[Alert]:
        alerts = []
        passed = set(run.passed_checks)
        for key, incident in list(self.open.items()):
            if incident.kind not in (RUN_FAILED, CHECK_FAILED) or not covers(run.window, incident.window):
                continue
            if incident.kind == RUN_FAILED and not set(incident.assets) <= set(run.assets):
                continue
            if incident.kind == CHECK_FAILED and not set(incident.checks) <= passed:
                continue
            what = "its checks pass" if incident.kind == CHECK_FAILED else "it succeeded"
            alerts += self.resolve(key, f"Run {run.run_id} covered the same work and {what}.", run.run_id, run.url)
        return alerts

    # -- freshness -------------------------------------------------------------------------------
    def freshness(self, stale_by_group: dict[str, list[str]], url_of) -> list[Alert]:
        """``stale_by_group``: every group with policies -> its assets failing their policy now."""
        alerts = []
        for group, stale in sorted(stale_by_group.items()):
            key = f"{STALE}:{group}"
            if stale:
                stale = sorted(stale)
                shown = ", ".join(stale[:8]) + (f" and {len(stale) - 8} more" if len(stale) > 8 else "")
                alerts += self.fire(
                    Incident(
                        key=key,
                        kind=STALE,
                        message=f"{len(stale)} asset{'s' if len(stale) > 1 else ''} of group {group} "
                        f"missed their freshness policy: {shown}.",
                        asset=stale[0],
                        url=url_of(stale[0]),
                        assets=tuple(stale),
                    )
                )
            elif key in self.open:
                alerts += self.resolve(key, f"Every asset of group {group} is within its freshness policy again.")
        return alerts

    # -- Kafka -----------------------------------------------------------------------------------
    def kafka(self, health: dict, url: str) -> list[Alert]:
        """From the latest health record of the Kafka consumer (``kafka_sensor.consumer_health``)."""
        servers = health.get("bootstrap_servers") or "Kafka"
        if not health.get("kafka_reachable", True):
            return self.fire(
                Incident(
                    key=KAFKA_UNAVAILABLE,
                    kind=KAFKA_UNAVAILABLE,
                    message=f"The Kafka consumer cannot land messages from {servers}: {health.get('error') or '?'}",
                    asset="landing_events",
                    url=url,
                )
            )
        alerts = self.resolve(KAFKA_UNAVAILABLE, f"The Kafka consumer reaches {servers} again.", url=url)
        lag, threshold = health.get("consumer_lag") or 0, health.get("lag_threshold") or 0
        if health.get("behind"):
            alerts += self.fire(
                Incident(
                    key=KAFKA_LAG,
                    kind=KAFKA_LAG,
                    message=f"The Kafka consumer is {lag:,} messages behind (threshold {threshold:,}) on {servers}.",
                    asset="landing_events",
                    url=url,
                )
            )
        else:
            alerts += self.resolve(KAFKA_LAG, f"Consumer lag is {lag:,} messages (threshold {threshold:,}).")
        return alerts


def _describe(assets: tuple[str, ...]) -> str:
    if not assets:
        return "a job"
    if len(assets) <= 3:
        return ", ".join(assets)
    return f"{len(assets)} assets ({assets[0]}, ...)"
