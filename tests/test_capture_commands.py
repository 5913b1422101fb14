"""Reading the server-sent event stream of commands."""

from __future__ import annotations

from capture_client.commands import ServerEvent, parse_events


def test_events_are_read_with_ids_and_keepalives_are_skipped():
    lines = [
        ": keepalive",
        "",
        "id: 17",
        "event: command",
        'data: {"command": "start",',
        'data:  "recording_id": "r"}',
        "",
        ": keepalive",
        "",
        "event: command",
        'data: {"command": "pause", "recording_id": "r"}',
        "",
    ]
    assert list(parse_events(lines)) == [
        ServerEvent("17", "command", '{"command": "start",\n "recording_id": "r"}'),
        ServerEvent("17", "command", '{"command": "pause", "recording_id": "r"}'),  # the last id stays
    ]
