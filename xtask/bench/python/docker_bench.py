"""Workload 7 on the Python side: the original's DockerSandbox on the same
local image as ours (from DEEPAGENT_BENCH_IMAGE; nothing is pulled)."""

from __future__ import annotations

import os
from pathlib import Path

from common import check, measure
from pydantic_ai_backends import DockerSandbox


def small_file(i: int) -> str:
    return f"# file {i}\nprint('hello from file {i}')\nvalue = {i}\n"


def run(data: Path, variant: str, p: dict) -> dict:
    image = os.environ["DEEPAGENT_BENCH_IMAGE"]
    # No network, like ours by default; a fresh container per process.
    sandbox = DockerSandbox(image=image, work_dir="/workspace", network_mode="none")
    sandbox.start()
    try:
        if variant == "exec-python":
            def op(_):
                out = sandbox.execute("true")
                if out.exit_code != 0:
                    raise RuntimeError(out.output)
                return 1

            return measure(lambda: None, op, lambda n: n)
        if variant == "write-python":
            n = p["docker_files"]
            contents = [small_file(i) for i in range(n)]
            rounds = iter(range(1, 1_000_000))

            def op(r):
                for i, content in enumerate(contents):
                    check(sandbox.write(f"/workspace/it{r}/d{i % 10}/f{i:05}.py", content))
                return n

            return measure(lambda: next(rounds), op, lambda n: n)
        raise SystemExit(f"unknown docker variant {variant}")
    finally:
        # Force-remove: a polite stop waits out the engine's 10 s grace period.
        container = getattr(sandbox, "_container", None)
        if container is not None:
            container.remove(force=True)
