"""Figures every benchmark prints the same way: seconds, events/s and the process's peak memory."""

from __future__ import annotations

import resource


def peak_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(stage: str, seconds: float, events: int, width: int = 28) -> None:
    rate = events / seconds if seconds > 0 else float("inf")
    print(f"{stage:<{width}} {seconds:8.2f} s  {rate:>12,.0f} events/s  peak RSS {peak_mb():8,.0f} MB", flush=True)
