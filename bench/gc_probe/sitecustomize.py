"""Logs the garbage collector's pauses in `callvault serve`, for the benchmarks' slowest requests.

Put this directory on PYTHONPATH of a bench run (Python imports ``sitecustomize`` at start-up):
    PYTHONPATH=bench/gc_probe CALLVAULT_BENCH_GC_LOG=/tmp/gc .venv/bin/python bench/search.py --reuse NAME
Each server process appends to ``$CALLVAULT_BENCH_GC_LOG/gc-<pid>.log`` one line per full
collection and per pause over 2 ms: wall time, generation, pause in ms, objects collected.
"""

import gc
import os
import sys
import time

_directory = os.environ.get("CALLVAULT_BENCH_GC_LOG")
if _directory and "serve" in sys.argv:
    _log = open(os.path.join(_directory, f"gc-{os.getpid()}.log"), "a", buffering=1)  # noqa: SIM115
    _began = [0.0]

    def _timed(phase: str, info: dict) -> None:
        if phase == "start":
            _began[0] = time.perf_counter()
            return
        pause = (time.perf_counter() - _began[0]) * 1000
        if pause > 2 or info["generation"] == 2:
            _log.write(f"{time.time():.3f} gen{info['generation']} {pause:.1f} ms collected={info['collected']}\n")

    gc.callbacks.append(_timed)
