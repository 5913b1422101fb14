"""Garbage-collector settings for the long-running processes: the server, its views worker,
and the processes of a rebuild."""

from __future__ import annotations

import gc

# Each lifecycle event allocates hundreds of short-lived objects (request bodies,
# events, payloads, rows), so the default first-generation threshold (700) runs a
# collection every few events, and the older generations then walk a heap that
# holds the ledger's and the views' caches: under sustained ingest that cost a
# third of the server's CPU (docs/benchmarks.md). Few of these objects form
# cycles, so collecting far less often costs little memory. Folding the log is the same
# kind of load: a view caught up from empty ran 15-25% faster (docs/benchmarks.md).
THRESHOLDS = (50_000, 20, 100)


def tune_for_service() -> None:
    gc.freeze()  # what start-up made (modules, the app) is never scanned again
    gc.set_threshold(*THRESHOLDS)
