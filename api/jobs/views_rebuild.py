"""`callvault projections rebuild`: views emptied and folded again from the whole log,
shared out between processes.

Folding is Python CPU bound, one core per process. On PostgreSQL each child process
takes a share of the views, reads the log for them itself and commits on its own
connections, so a rebuild of all views uses every core the machine gives us. On
SQLite (one writer at a time) the views are rebuilt in this process, sharing one read.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, wait
from typing import Any

from adapters.event_store import open_ledger, open_view_store
from adapters.settings import Settings
from api.gc_tuning import tune_for_service
from api.logging import configure_logging
from projections.runner import Projections

# Spawned, not forked: a fork would copy this process's pool connections and threads' locks.
_CONTEXT = multiprocessing.get_context("spawn")
_PROGRESS_POLL_SECONDS = 0.2
_progress: Any = None  # in a child: the queue its windows' sizes go to


def rebuild(
    settings: Settings,
    projections: Projections,
    names: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Empties the views named (default: all) and folds them again; returns the events applied, summed over views.

    ``progress`` is called with the size of each window of the log a process has
    folded: over the whole rebuild it adds up to the log's length times ``len(shares(...))``.
    """
    chosen = projections.check_names(names)
    groups = shares(settings, projections, chosen)
    if len(groups) < 2:
        return projections.rebuild(chosen, progress)
    updates = _CONTEXT.Queue()
    with ProcessPoolExecutor(len(groups), mp_context=_CONTEXT, initializer=_child, initargs=(updates,)) as pool:
        futures = [pool.submit(_rebuild_share, settings, group) for group in groups]
        while not _all_done(futures):
            _report(updates, progress, block=True)
        _report(updates, progress, block=False)
        return sum(f.result() for f in futures)  # a child's failure is raised here


def shares(settings: Settings, projections: Projections, names: list[str]) -> list[list[str]]:
    """The views each process rebuilds: one process on SQLite, else one per core (at most one per view).

    The shares are balanced by each view's fold cost, heaviest first onto the lightest share:
    a rebuild lasts as long as its slowest process. Views that decode every event
    (audit trail, recordings) are thereby kept apart from the one that needs only the
    events' times (log leaves) wherever the costs allow it.
    """
    processes = min(len(os.sched_getaffinity(0)), len(names)) if settings.uses_postgres else 1
    groups: list[list[str]] = [[] for _ in range(processes)]
    loads = [0.0] * processes
    cost = {name: projections.followers[name].projection.fold_cost for name in names}
    for name in sorted(names, key=lambda n: cost[n], reverse=True):
        lightest = loads.index(min(loads))
        groups[lightest].append(name)
        loads[lightest] += cost[name]
    return groups


def _all_done(futures: list[Future[int]]) -> bool:
    return not wait(futures, timeout=0).not_done


def _report(updates: Any, progress: Callable[[int], None] | None, *, block: bool) -> None:
    """Passes on the children's progress: waits a little for one update, or takes those queued."""
    try:
        while True:
            count = updates.get(timeout=_PROGRESS_POLL_SECONDS) if block else updates.get_nowait()
            if progress is not None:
                progress(count)
            block = False
    except queue.Empty:
        return


def _child(updates: Any) -> None:
    global _progress
    _progress = updates


def _rebuild_share(settings: Settings, names: list[str]) -> int:
    configure_logging(settings)
    tune_for_service()
    ledger = open_ledger(settings, group_commit=False)
    try:
        projections = Projections(ledger, open_view_store(ledger), batch_size=settings.projection_batch_size)
        return projections.rebuild(names, _progress.put)
    finally:
        ledger.close()
