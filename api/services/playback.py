"""Playback: opening the player (one Played event per viewing, with its reason), the
grants that let a browser stream the media, and the playable file they stream.

The playable file (adapters/media_combine.py) is built when first asked for,
from the media the recording's events name, and kept sealed under the
recording's key among its derived media, named by a fingerprint of that media:
new media makes a new fingerprint, so the next viewing gets a rebuilt file.
A purge destroys the key, so no grant can serve it and nothing can rebuild it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import msgspec

from adapters import crypto
from adapters.media_combine import combine, voice_peaks, voice_track
from adapters.media_vault import MediaVault
from adapters.playback_grants import BadGrant, Grant, GrantSigner
from api.services.access import AccessControl, actor
from domain.access_record import Outcome
from domain.commands import RecordPlayback
from domain.errors import Forbidden, InvalidCommand, MediaPurged, NotFound
from domain.identity import Role
from domain.ledger import RecordingLedger
from domain.permissions import Action, Principal
from domain.recording import Recording
from domain.timeline import Timeline, timeline_of
from domain.values import PLAY_PARTS

PEAKS_PER_SECOND = 20
BUILD_LOCKS = 64
REMEMBERED_VIEWINGS = 10_000


@dataclass(frozen=True)
class Viewing:
    viewing_id: UUID
    recording_id: UUID
    parts: tuple[str, ...]
    grant: str
    expires_at: datetime


@dataclass(frozen=True)
class MediaFile:
    """What a media response serves: its size, a validator, and its bytes by inclusive range,
    best read in pieces that do not cross a multiple of ``piece_bytes`` (each opens one sealed chunk)."""

    content_type: str
    size: int
    etag: str
    read: Callable[[int, int], bytes]
    piece_bytes: int


class Peaks(msgspec.Struct):
    peaks_per_second: int
    duration_ms: int
    peaks: list[float]


class Playback:
    def __init__(
        self,
        ledger: RecordingLedger,
        media: MediaVault,
        access: AccessControl,
        grants: GrantSigner,
        grant_seconds: float,
    ) -> None:
        self._ledger = ledger
        self._media = media
        self._access = access
        self._grants = grants
        self._grant_seconds = grant_seconds
        # One build per file at a time: a request for a file being built waits for it (striped, so
        # the locks stay few however many recordings are played).
        self._building = [threading.Lock() for _ in range(BUILD_LOCKS)]
        self._viewed: OrderedDict[UUID, str] = OrderedDict()  # viewing id -> its playable file's key
        self._viewed_guard = threading.Lock()

    # -- opening the player ------------------------------------------------

    def open_viewing(
        self,
        principal: Principal,
        recording_id: UUID,
        reason_code: str,
        parts: Sequence[str] = (),
        *,
        unredacted: bool = False,
    ) -> Viewing:
        """Records one Played (who, role, why, which parts, whether unredacted) and grants the media
        for this viewing. ``parts`` defaults to every part the recording has. Where card data was
        spoken the media is silent and blank unless ``unredacted`` (legal only)."""
        self._access.allow_recording(principal, Action.PLAY, recording_id)
        if unredacted:
            self._access.allow_recording(principal, Action.PLAY_UNREDACTED, recording_id)
        _, terms = self._ledger.current_policy()
        try:
            terms.check_playback(reason_code, by_agent=principal.role is Role.AGENT)
        except Forbidden as refusal:
            detail = {"reason_code": reason_code, "why": str(refusal)}
            self._access.record(principal, Action.PLAY, Outcome.REFUSED, [recording_id], detail, "refused")
            raise
        recording = self._ledger.get_recording(recording_id)
        available = self.parts_of(recording)
        chosen = tuple(part for part in PLAY_PARTS if part in (parts or available))
        if unknown := set(parts) - set(PLAY_PARTS):
            raise InvalidCommand(f"parts must be among {', '.join(PLAY_PARTS)}, not {', '.join(sorted(unknown))}")
        viewing_id, now = uuid4(), datetime.now(UTC)
        self._ledger.execute(
            RecordPlayback(
                recording_id,
                reason_code=reason_code,
                what=",".join(chosen),
                viewing_id=str(viewing_id),
                unredacted=unredacted,
                occurred_at=now,
                by=actor(principal),
            )
        )
        # Long enough to watch the whole recording once, and the grant's own margin on top.
        length = timeline_of(self._ledger.history(recording_id).events).duration_ms / 1000
        expires = int(time.time() + length + self._grant_seconds)
        grant = Grant(viewing_id, principal.user_id, recording_id, ",".join(chosen), expires, unredacted)
        return Viewing(viewing_id, recording_id, chosen, self._grants.sign(grant), datetime.fromtimestamp(expires, UTC))

    @staticmethod
    def parts_of(recording: Recording) -> tuple[str, ...]:
        has = {"audio": recording.voice_sha256 is not None, "screen": bool(recording.segments)}
        return tuple(part for part in PLAY_PARTS if has[part])

    def timeline(self, recording_id: UUID) -> Timeline:
        """The recording's timeline (for a page whose reader was already allowed to see the recording)."""
        return timeline_of(self._ledger.history(recording_id).events)

    def viewing(self, principal: Principal, recording_id: UUID, token: str) -> Grant:
        """The grant, if it is this server's, unexpired, for this recording and this user; a refusal is recorded."""
        try:
            grant = self._grants.read(token)
        except BadGrant as bad:
            why = str(bad)
        else:
            if grant.recording_id != recording_id:
                why = "the grant is for another recording"
            elif grant.user_id != principal.user_id:
                why = "the grant was issued to another user"
            elif self._grants.expired(grant):
                why = "the grant has expired; open the player again"
            else:
                return grant
        self._access.record(principal, Action.PLAY, Outcome.REFUSED, [recording_id], {"why": why}, "refused")
        raise Forbidden(why)

    # -- the media a grant serves -------------------------------------------

    def playable(self, principal: Principal, recording_id: UUID, token: str) -> MediaFile:
        grant = self.viewing(principal, recording_id, token)
        # A player asks for many ranges in one viewing: the file found for its first is
        # remembered (a viewing plays one version of the media, so its ETag holds), and
        # only checked to be still there (and the recording's key not destroyed).
        key = self._viewed.get(grant.viewing_id)
        film = self._media.open_derived(recording_id, key) if key else None
        if key is None or film is None:
            key = self._built(recording_id, tuple(grant.parts.split(",")), redacted=not grant.unredacted)
            film = self._media.open_derived(recording_id, key)
            assert film is not None  # just built
            with self._viewed_guard:
                self._viewed[grant.viewing_id] = key
                while len(self._viewed) > REMEMBERED_VIEWINGS:
                    self._viewed.popitem(last=False)
        content_type = "video/mp4" if "screen" in grant.parts else "audio/mp4"
        etag = '"' + key.rsplit("/", 2)[-2] + "-" + grant.parts.replace(",", "+") + '"'
        return MediaFile(content_type, film.size, etag, film.read, crypto.CHUNK_BYTES)

    def peaks(self, principal: Principal, recording_id: UUID, token: str) -> bytes:
        grant = self.viewing(principal, recording_id, token)
        if "audio" not in grant.parts:
            raise NotFound("this viewing has no audio")
        _, peaks_key = self._voice_prepared(recording_id)
        data = self._media.get_derived(recording_id, peaks_key)
        assert data is not None
        return data

    def snapshot(self, principal: Principal, recording_id: UUID, snapshot_id: str, token: str) -> MediaFile:
        grant = self.viewing(principal, recording_id, token)
        if "screen" not in grant.parts:
            raise NotFound("this viewing does not include the screen")
        for event in self._ledger.history(recording_id).events:
            if isinstance(event, Recording.SnapshotTaken) and event.snapshot_id == snapshot_id:
                image = self._media.get(recording_id, event.media_key)

                def read(first: int, last: int, image: bytes = image) -> bytes:
                    return image[first : last + 1]

                return MediaFile("image/jpeg", len(image), f'"{event.sha256}"', read, max(1, len(image)))
        raise NotFound(f"recording {recording_id} has no snapshot {snapshot_id!r}")

    def prepare_voice(self, recording_id: UUID) -> None:
        """Encodes the voice for playback and draws its waveform now (when it arrives), so that the
        first viewing only has to copy it; later builds of the playable file (new segments) copy it too."""
        try:
            self._voice_prepared(recording_id)
        except MediaPurged:
            pass  # purged since: nothing to prepare

    def _voice_prepared(self, recording_id: UUID) -> tuple[str, str]:
        """The keys of the voice's AAC track and of its waveform's peaks, made if they are not."""
        recording = self._ledger.get_recording(recording_id)
        if recording.purged:
            raise MediaPurged(f"the media of recording {recording_id} was purged")
        if recording.voice_sha256 is None:
            raise NotFound(f"recording {recording_id} has no voice")
        name = f"{self._media.derived_prefix(recording_id)}voice-{recording.voice_sha256[:32]}"
        track_key, peaks_key = name + ".m4a", name + ".peaks.json"
        with self._building[int(recording.voice_sha256[:8], 16) % BUILD_LOCKS]:
            if self._media.open_derived(recording_id, peaks_key) is None:
                [voice] = [
                    e for e in self._ledger.history(recording_id).events if isinstance(e, Recording.VoiceRecorded)
                ]
                raw = self._media.get(recording_id, voice.media_key)
                self._media.put_derived(recording_id, track_key, voice_track(raw))
                peaks = Peaks(PEAKS_PER_SECOND, voice.duration_ms, voice_peaks(raw, PEAKS_PER_SECOND))
                self._media.put_derived(recording_id, peaks_key, msgspec.json.encode(peaks))
        return track_key, peaks_key

    def _built(self, recording_id: UUID, parts: tuple[str, ...], *, redacted: bool) -> str:
        """The key of the playable file of this media and these parts, built if it is not;
        ``redacted``: silent and without frames where card data was spoken.

        Every byte range a player asks for comes here, so the file is found from the
        recording's state (cached, brought up to the log) without reading its history:
        the fingerprint names each segment and the voice by number and digest, and an
        upload never changes once stored. Only a build reads the events (for the offsets).
        """
        recording = self._ledger.get_recording(recording_id)
        if recording.purged:
            raise MediaPurged(f"the media of recording {recording_id} was purged")
        segments = sorted(recording.segments.items()) if "screen" in parts else []
        with_voice = "audio" in parts and recording.voice_sha256 is not None
        hidden = sorted(recording.card_spans) if redacted else []
        fingerprint = hashlib.sha256(
            "\n".join(f"{number} {digest}" for number, digest in segments).encode()
            + f"\0{recording.voice_sha256 if with_voice else ''}".encode()
            + f"\0{hidden}".encode()
        ).hexdigest()[:32]
        key = f"{self._media.derived_prefix(recording_id)}{fingerprint}/{'-'.join(parts)}.mp4"
        # Before the lock: these take one too.
        track = self._voice_track(recording_id, hidden) if with_voice else None
        with self._building[int(fingerprint, 16) % BUILD_LOCKS]:
            if self._media.open_derived(recording_id, key) is None:
                events = self._ledger.history(recording_id).events if segments else []
                sources = [
                    (e.start_offset_ms, self._reader(recording_id, e.media_key))
                    for e in events
                    if isinstance(e, Recording.ScreenSampled)
                ]
                voice = self._media.get_derived(recording_id, track) if track else None
                self._media.put_derived(recording_id, key, combine(sources, voice, blanked=hidden))
        return key

    def _voice_track(self, recording_id: UUID, silenced: list[tuple[int, int]]) -> str:
        """The key of the voice's AAC track, silent over ``silenced`` (made once per set of spans)."""
        track_key = self._voice_prepared(recording_id)[0]
        if not silenced:
            return track_key
        muted_key = (
            track_key.removesuffix(".m4a") + f".muted-{hashlib.sha256(str(silenced).encode()).hexdigest()[:16]}.m4a"
        )
        recording = self._ledger.get_recording(recording_id)
        assert recording.voice_sha256 is not None  # _voice_prepared found it
        with self._building[int(recording.voice_sha256[:8], 16) % BUILD_LOCKS]:
            if self._media.open_derived(recording_id, muted_key) is None:
                [voice] = [
                    e for e in self._ledger.history(recording_id).events if isinstance(e, Recording.VoiceRecorded)
                ]
                raw = self._media.get(recording_id, voice.media_key)
                self._media.put_derived(recording_id, muted_key, voice_track(raw, silenced))
        return muted_key

    def _reader(self, recording_id: UUID, media_key: str) -> Callable[[], bytes]:
        return lambda: self._media.get(recording_id, media_key)
