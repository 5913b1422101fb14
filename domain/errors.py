"""Domain errors: each names the rule it protects.

Four families, so an interface can map every error by its kind alone
(the HTTP API: invalid 422, conflict 409, not found 404, forbidden 403).
"""


class DomainError(Exception):
    """A command broke a rule of the recording ledger."""


class InvalidCommand(DomainError):
    """The command can never succeed as given (bad values)."""


class StateConflict(DomainError):
    """The command is well formed but the recording's state refuses it."""


class NotFound(DomainError):
    """The command names something the ledger does not hold."""


class Forbidden(DomainError):
    """The actor's role or place in the org does not allow this."""


class RecordingNotFound(NotFound):
    pass


class ScreenNotSelected(StateConflict):
    """A screen segment for a recording whose screen was not selected for capture."""


class SegmentWhilePaused(StateConflict):
    """A screen segment captured while the recording was paused."""


class SegmentAfterAcw(StateConflict):
    """A screen segment captured after after-call work ended."""


class SegmentConflict(StateConflict):
    """A segment number already stored with a different hash."""


class MediaConflict(StateConflict):
    """Another body is already stored where this one would go."""


class SnapshotNotRequested(StateConflict):
    pass


class InvalidSegment(InvalidCommand):
    """Negative sequence number, offset or duration, or a malformed hash."""


class NotRecording(StateConflict):
    """Pause requested while the recording is not running."""


class NotPaused(StateConflict):
    """Resume requested while the recording is not paused."""


class CallAlreadyEnded(StateConflict):
    pass


class CallNotEnded(StateConflict):
    """After-call work can only end once the call itself has ended."""


class AcwAlreadyEnded(StateConflict):
    pass


class RecordingAlreadyStarted(StateConflict):
    """The interaction was started before with different details."""


class RecordingPurged(StateConflict):
    """Only access records are accepted once media and keys are destroyed."""


class MediaPurged(RecordingPurged):
    """Playback or media export of a purged recording."""


class LegalHoldActive(StateConflict):
    """Purge (or archive) of a recording under legal hold."""


class NoSuchHold(StateConflict):
    """Release of a legal hold case that is not active on the recording."""


class RecordingNotComplete(StateConflict):
    """Archive or purge before after-call work has ended."""


class AlreadyArchived(StateConflict):
    pass


class InvalidPolicy(InvalidCommand):
    """Recording policy terms out of range or contradicting themselves."""


class PolicyNotFound(NotFound):
    pass


class LogTampered(StateConflict):
    """Stored events or Merkle leaves no longer match what the log recorded or signed:
    the log refuses to vouch for them (no proof, no new checkpoint) until investigated."""


class RetentionDuty(StateConflict):
    """The data must still be kept: its retention period has not run out."""
