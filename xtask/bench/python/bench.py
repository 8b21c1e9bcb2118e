"""The Python side of `cargo xtask bench`: pydantic-ai-backend 0.2.20.

    python bench.py --data DIR WORKLOAD VARIANT

Reads the data sets and `params.json` that `deepagent-bench gen` wrote, runs
one variant in this process and prints one JSON object (see common.py).
Each workload does what deepagent-bench's does, through the original's API.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import Scratch, check, emit, load_tree, measure, reset_peak, vm_hwm, vm_rss
from pydantic_ai_backends import CompositeBackend, LocalBackend, StateBackend


def state_with(files: list[tuple[str, str]]) -> StateBackend:
    backend = StateBackend()
    for path, text in files:
        check(backend.write(path, text))
    return backend


def grep_count(result) -> int:
    check(result)
    return len(result)


def state_grep(data: Path, p: dict) -> dict:
    backend = state_with(load_tree(data / "state-grep"))
    return measure(lambda: None, lambda _: backend.grep_raw(p["grep_pattern"]), grep_count)


def local_grep(data: Path, p: dict) -> dict:
    backend = LocalBackend(root_dir=data / "local-grep", enable_execute=False)
    return measure(lambda: None, lambda _: backend.grep_raw(p["grep_pattern"]), grep_count)


def glob(backend, p: dict) -> dict:
    return measure(lambda: None, lambda _: backend.glob_info("**/*.py", "/" if isinstance(backend, StateBackend) else "."), len)


def read(backend, path: str, p: dict) -> dict:
    off, lim = p["read_offset"], p["read_limit"]
    return measure(
        lambda: None,
        lambda _: check(backend.read(path, off, lim)),
        lambda text: len(text.splitlines()),
    )


def small_file(i: int) -> str:
    return f"# file {i}\nprint('hello from file {i}')\nvalue = {i}\n"


def composite(data: Path, p: dict) -> dict:
    """Memory default, a LocalBackend mounted over its own root directory.

    The original passes paths to the mounted backend unchanged, and its
    LocalBackend takes absolute paths as host paths, so the only working
    local mount is one whose prefix is the host directory itself.
    """
    n = p["composite_files"]
    contents = [small_file(i) for i in range(n)]
    scratch = Scratch(data, "composite")

    def setup():
        root = scratch.new().resolve()
        local = LocalBackend(root_dir=root, enable_execute=False)
        backend = CompositeBackend(default=StateBackend(), routes={f"{root}/": local})
        paths = [
            f"{root}/d{i % 100:02}/f{i:05}.py" if i % 2 == 0 else f"/scratch/d{i % 100:02}/f{i:05}.py"
            for i in range(n)
        ]
        return backend, paths

    def op(state):
        backend, paths = state
        for path, content in zip(paths, contents):
            check(backend.write(path, content))
        total = 0
        for path in paths:
            total += len(backend.read_bytes(path))
        return total

    return measure(setup, op, lambda total: total)


def edit_file(lines: int) -> str:
    return "".join(f"    value_{i:05} = compute({i}, state)\n" for i in range(lines))


def edit_pair(k: int, lines: int, count: int) -> tuple[str, str]:
    step = max(1, lines // max(1, count))
    line = (k * step) % lines
    return f"value_{line:05} =", f"renamed_{line:05} ="


def edit(data: Path, p: dict, local: bool) -> dict:
    lines, count = p["edit_lines"], p["edit_count"]
    content = edit_file(lines)
    edits = [edit_pair(k, lines, count) for k in range(count)]
    scratch = Scratch(data, "edit")

    def setup():
        if local:
            backend = LocalBackend(root_dir=scratch.new(), enable_execute=False)
            path = "edited.py"  # relative: the original reads "/x" as a host path
        else:
            backend = StateBackend()
            path = "/edited.py"
        check(backend.write(path, content))
        return backend, path

    def op(state):
        backend, path = state
        done = 0
        for old, new in edits:
            done += check(backend.edit(path, old, new)).occurrences
        return done

    return measure(setup, op, lambda done: done)


def memory(p: dict) -> dict:
    n, size = p["memory_files"], p["memory_file_size"]
    before = vm_rss()
    reset_peak()
    start = time.perf_counter()
    backend = StateBackend()
    for i in range(n):
        content = f"{i:08}".ljust(size - 1, "x") + "\n"
        check(backend.write(f"/d{i % 1000:03}/f{i:06}.txt", content))
    secs = time.perf_counter() - start
    peak = vm_hwm()
    held = len(backend.files)
    return {
        "secs": secs,
        "iters": 1,
        "first_secs": secs,
        "peak_rss_delta": None if before is None or peak is None else max(0, peak - before),
        "count": held * size,
    }


def run(data: Path, workload: str, variant: str) -> dict:
    p = json.loads((data / "params.json").read_text())
    key = (workload, variant)
    if key == ("state-grep", "python"):
        return state_grep(data, p)
    if key == ("local-grep", "python"):
        return local_grep(data, p)
    if key == ("glob", "local-python"):
        return glob(LocalBackend(root_dir=data / "glob-tree", enable_execute=False), p)
    if key == ("glob", "state-python"):
        return glob(state_with(load_tree(data / "glob-tree")), p)
    if key == ("read", "local-python"):
        return read(LocalBackend(root_dir=data / "read", enable_execute=False), "big.txt", p)
    if key == ("read", "state-python"):
        return read(state_with([("/big.txt", (data / "read" / "big.txt").read_text())]), "/big.txt", p)
    if key == ("composite", "composite-python"):
        return composite(data, p)
    if key == ("edit", "local-python"):
        return edit(data, p, local=True)
    if key == ("edit", "state-python"):
        return edit(data, p, local=False)
    if key == ("memory", "state-python"):
        return memory(p)
    if workload == "docker":
        from docker_bench import run as docker_run

        return docker_run(data, variant, p)
    raise SystemExit(f"unknown workload/variant {workload}/{variant}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("workload")
    parser.add_argument("variant")
    args = parser.parse_args()
    emit(run(args.data, args.workload, args.variant))


if __name__ == "__main__":
    sys.exit(main())
