"""The transparency log's tamper alarm, shared by the signer, the proofs and the self-audit.

A finding is logged, recorded in the audit trail (by the SYSTEM actor) and kept
in ``log_alarms``, where it makes /ready degraded and stops all signing until an
operator who has investigated removes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID

import structlog

from adapters.checkpoint_store import CheckpointStore
from domain.access_record import Outcome
from domain.errors import LogTampered
from domain.ledger import RecordingLedger
from domain.values import SYSTEM

log = structlog.get_logger(__name__)

ALARM_ACTION = "log_tampered"  # the audit-trail action of a raised alarm


class LogAlarm:
    def __init__(self, ledger: RecordingLedger, checkpoints: CheckpointStore) -> None:
        self._ledger = ledger
        self._checkpoints = checkpoints

    def reason(self) -> str | None:
        """Why the log is known tampered, or None."""
        return self._checkpoints.alarm()

    def refuse_if_tampered(self) -> None:
        """LogTampered while an alarm stands: the log vouches for nothing new until investigated."""
        reason = self.reason()
        if reason is not None:
            log.error("refused: the log is known tampered", reason=reason)
            raise LogTampered(f"the log is known tampered, nothing is signed until it is investigated: {reason}")

    def sound(self, reason: str, *, found_by: str, recording_ids: Iterable[UUID] = ()) -> LogTampered:
        """Logs, records and keeps a finding; the error for the caller to raise, if it refuses something."""
        now = datetime.now(UTC)
        ids = list(recording_ids)
        log.error("transparency log tampered", reason=reason, found_by=found_by, recording_ids=[str(i) for i in ids])
        if self._checkpoints.raise_alarm(reason, found_by, now):  # once per finding, not per look
            self._ledger.record_access(
                action=ALARM_ACTION,
                outcome=Outcome.REFUSED,
                recording_ids=ids,
                reason_code="tamper",
                detail={"reason": reason, "found_by": found_by},
                occurred_at=now,
                by=SYSTEM,
            ).result()
        return LogTampered(f"the log no longer matches what it recorded or signed: {reason}")


# Findings are worded the same whoever makes them, so one finding is recorded once.


def root_differs(size: int) -> str:
    return f"the first {size} leaves no longer hash to the root signed for that size"


def events_differ(leaf_indexes: Iterable[int]) -> str:
    return f"leaves {_ranges(leaf_indexes)}: the stored events no longer match their leaves"


def _ranges(indexes: Iterable[int]) -> str:
    """1, 2, 3, 7 -> "1-3, 7": compact, and the same for the same leaves."""
    spans: list[list[int]] = []
    for index in sorted(indexes):
        if spans and index == spans[-1][1] + 1:
            spans[-1][1] = index
        else:
            spans.append([index, index])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)
