"""Timing and peak-memory measurement, the same rules as deepagent-bench's
`measure.rs`, so the two sides' numbers compare:

1. the first operation runs with the kernel's peak-RSS counter reset, so its
   memory cost is VmHWM - VmRSS(before); it doubles as the warm-up;
2. then timed iterations until 0.5 s have been spent (at least one, at most
   50); the median of those is the result.

One process measures one variant and prints one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any, Callable

BUDGET_SECS = 0.5
MAX_ITERS = 50


def _status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line[len(field):].strip().split()[0]) * 1024
    except OSError:
        return None
    return None


def vm_rss() -> int | None:
    """Current resident memory in bytes."""
    return _status_bytes("VmRSS:")


def vm_hwm() -> int | None:
    """Peak resident memory since the last reset, in bytes."""
    return _status_bytes("VmHWM:")


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def measure(
    setup: Callable[[], Any],
    op: Callable[[Any], Any],
    count: Callable[[Any], int],
) -> dict[str, Any]:
    """Measure `op(setup())` by the rules above."""
    state = setup()
    before = vm_rss()
    reset_peak()
    start = time.perf_counter()
    first = op(state)
    first_secs = time.perf_counter() - start
    peak = vm_hwm()
    found = count(first)
    del first, state

    times: list[float] = []
    spent = 0.0
    while len(times) < MAX_ITERS and (not times or spent < BUDGET_SECS):
        state = setup()
        start = time.perf_counter()
        out = op(state)
        took = time.perf_counter() - start
        del out, state
        spent += took
        times.append(took)

    return {
        "secs": statistics.median(times),
        "iters": len(times),
        "first_secs": first_secs,
        "peak_rss_delta": None if before is None or peak is None else max(0, peak - before),
        "count": found,
    }


def load_tree(root: Path) -> list[tuple[str, str]]:
    """Every file under `root` as (virtual path, text), sorted by path."""
    out = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = Path(dirpath) / name
            out.append(("/" + full.relative_to(root).as_posix(), full.read_text()))
    out.sort()
    return out


class Scratch:
    """Fresh directories under DATA/work.

    They are left for the xtask to remove at the end of the run: deleting
    thousands of files slows the next variant's file creation (see
    `xtask/src/bench.rs`, `clear_scratch`).
    """

    def __init__(self, data: Path, name: str) -> None:
        self.base = data / "work"
        self.name = name
        self.made: list[Path] = []

    def new(self) -> Path:
        path = self.base / f"{self.name}-py{os.getpid()}-{len(self.made)}"
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        self.made.append(path)
        return path



def check(result: Any) -> Any:
    """Fail loudly on a backend's error result instead of timing a failure."""
    error = getattr(result, "error", None)
    if error:
        raise RuntimeError(error)
    if isinstance(result, str) and result.startswith("Error"):
        raise RuntimeError(result)
    return result


def emit(sample: dict[str, Any]) -> None:
    print(json.dumps(sample))
