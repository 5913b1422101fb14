"""What goes to the server for each kind of spooled item (docs/capture-protocol.md)."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote

from capture_client.encoder import EncodedSegment
from capture_client.grabber import Shot
from capture_client.spool import Spool, file_label


def _path(*parts: str) -> str:
    return "/v1/recordings/" + "/".join(quote(part, safe="") for part in parts)


def spool_segment(spool: Spool, recording_id: str, sequence: int, segment: EncodedSegment, captured_at: str) -> None:
    spool.put(
        f"{file_label(recording_id)}.segment-{sequence:08d}",
        segment.data,
        {
            "method": "PUT",
            "path": _path(recording_id, "segments", str(sequence)),
            "content_type": "video/mp2t",
            "params": {
                "sha256": hashlib.sha256(segment.data).hexdigest(),
                "captured_at": captured_at,
                "start_offset_ms": segment.start_offset_ms,
                "duration_ms": segment.duration_ms,
                "monitor": segment.monitor,
                "width": segment.width,
                "height": segment.height,
                "codec": "h264",
                "fps": segment.fps,
            },
        },
    )


def spool_capture_report(spool: Spool, recording_id: str, segments: int, stopped_at: str) -> None:
    body = json.dumps({"segments": segments, "stopped_at": stopped_at}).encode()
    request = {
        "method": "POST",
        "path": _path(recording_id, "capture-report"),
        "content_type": "application/json",
        "params": {},
    }
    spool.put(f"{file_label(recording_id)}.capture-report", body, request)


def spool_snapshot(spool: Spool, recording_id: str, snapshot_id: str, jpeg: bytes, shot: Shot, taken_at: str) -> None:
    spool.put(
        f"{file_label(recording_id)}.snapshot-{file_label(snapshot_id)}",
        jpeg,
        {
            "method": "PUT",
            "path": _path(recording_id, "snapshots", snapshot_id),
            "content_type": "image/jpeg",
            "params": {
                "sha256": hashlib.sha256(jpeg).hexdigest(),
                "taken_at": taken_at,
                "monitor": shot.monitor,
                "width": shot.width,
                "height": shot.height,
            },
        },
    )
