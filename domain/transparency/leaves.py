"""The Merkle leaf of one stored event: a canonical, versioned byte encoding.

A leaf commits to where the event sits in the log and to the SHA-256 of the
stored event bytes exactly as persisted, not to their meaning, so encrypting or
shredding payloads later never breaks a proof. The same code encodes leaves on
the server and decodes them in the offline verifier.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

MAGIC = b"callvault/leaf/v1\n"
STATE_HASH_SIZE = 32  # SHA-256 of the stored event bytes, the leaf's last field
# index, originator id, version, recorded time (µs since the epoch), topic length
_FIXED = struct.Struct(">Q16sQqH")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LeafError(ValueError):
    pass


@dataclass(frozen=True)
class Leaf:
    index: int
    originator_id: UUID
    originator_version: int
    topic: str
    recorded_at: datetime
    state_sha256: bytes

    def encode(self) -> bytes:
        topic = self.topic.encode()
        micros = (self.recorded_at - EPOCH) // _MICROSECOND
        return (
            MAGIC
            + _FIXED.pack(self.index, self.originator_id.bytes, self.originator_version, micros, len(topic))
            + topic
            + self.state_sha256
        )

    @classmethod
    def decode(cls, data: bytes) -> Leaf:
        if not data.startswith(MAGIC):
            raise LeafError("not a callvault v1 leaf")
        fixed_end = len(MAGIC) + _FIXED.size
        if len(data) < fixed_end:
            raise LeafError("leaf is truncated")
        index, originator, version, micros, topic_length = _FIXED.unpack(data[len(MAGIC) : fixed_end])
        topic_end = fixed_end + topic_length
        if len(data) != topic_end + STATE_HASH_SIZE:
            raise LeafError("leaf has the wrong length")
        return cls(
            index=index,
            originator_id=UUID(bytes=originator),
            originator_version=version,
            topic=data[fixed_end:topic_end].decode(),
            recorded_at=EPOCH + micros * _MICROSECOND,
            state_sha256=data[topic_end:],
        )

    @classmethod
    def of_stored_event(
        cls,
        index: int,
        originator_id: UUID,
        originator_version: int,
        topic: str,
        recorded_at: datetime,
        state: bytes,
    ) -> Leaf:
        return cls(
            index, originator_id, originator_version, topic, recorded_at.astimezone(UTC), hashlib.sha256(state).digest()
        )


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - EPOCH
