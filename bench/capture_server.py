"""The capture benchmark's stand-in for the server: the side of docs/capture-protocol.md a recording needs.

It sends the commands it is given on the client's command stream and keeps the
uploaded segments and the capture report, so the benchmark can check them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

TOKEN = "bench-token"


class FakeServer:
    """The server side of docs/capture-protocol.md, as much as a recording needs."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.commands: list[dict] = []
        self.segments: dict[int, tuple[bytes, dict]] = {}
        self.reports: dict[str, dict] = {}
        self.refused = 0
        self.stream_connections = 0
        self.running = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def send(self, command: str, recording_id: str) -> None:
        with self.lock:
            self.commands.append(
                {"command": command, "recording_id": recording_id, "at": datetime.now(UTC).isoformat()}
            )
            self.lock.notify_all()

    def close(self) -> None:
        self.running = False
        with self.lock:
            self.lock.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def do_GET(self) -> None:
            if urlsplit(self.path).path != "/v1/capture/commands":
                return self._answer(404)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            with server.lock:
                server.stream_connections += 1
                sent = len(server.commands)
            try:
                while server.running:
                    with server.lock:
                        if len(server.commands) == sent:
                            server.lock.wait(1.0)
                        news = server.commands[sent:]
                    for index, command in enumerate(news, start=sent + 1):
                        self.wfile.write(f"id: {index}\nevent: command\ndata: {json.dumps(command)}\n\n".encode())
                    sent += len(news)
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
            except OSError:
                pass

        def do_PUT(self) -> None:
            self._upload()

        def do_POST(self) -> None:
            self._upload()

        def _upload(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._answer(401)
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query))
            parts = url.path.strip("/").split("/")  # v1 recordings {id} segments {n}
            with server.lock:
                if parts[3] == "capture-report":
                    server.reports[parts[2]] = json.loads(body)
                    return self._answer(201)
                if parts[3] != "segments" or hashlib.sha256(body).hexdigest() != params.get("sha256"):
                    server.refused += 1
                    return self._answer(422)
                server.segments[int(parts[4])] = (body, params)
                return self._answer(201)

    return Handler
