"""`callvault-capture`: runs the capture client until interrupted."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

import httpx

from capture_client.adaptive import QualityController, quality_ladder
from capture_client.commands import CommandStream
from capture_client.recorder import Recorder
from capture_client.spool import Spool
from capture_client.uploader import Uploader

log = logging.getLogger("capture_client")

DRAIN_SECONDS = 5.0  # on exit, time left to the uploader before the rest waits in the spool
STATUS_WIDTH = 79


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError("width and height must be even and at least 16")
    return width, height


def _default_spool() -> Path:
    state_home = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state_home) / "callvault-capture" / "spool"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="callvault-capture", description="Record this agent's screen during selected calls."
    )
    parser.add_argument("--server", required=True, help="callvault server URL")
    parser.add_argument("--token", required=True, help="bearer token of the agent")
    parser.add_argument("--spool", type=Path, default=_default_spool(), help="local spool directory")
    parser.add_argument("--fps", type=int, default=5, help="frames per second at best quality")
    parser.add_argument("--segment-seconds", type=float, default=4.0, help="length of one uploaded segment")
    parser.add_argument("--size", type=_size, default=(1280, 720), help="output size WxH at best quality")
    parser.add_argument("--cpu-budget", type=float, default=0.10, help="share of one CPU core the client may use")
    parser.add_argument("--kbps-budget", type=float, default=300, help="upload budget in kbit/s")
    args = parser.parse_args(argv)
    if args.fps < 1 or args.segment_seconds <= 0:
        parser.error("--fps must be at least 1 and --segment-seconds positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    handler = _StatusClearingHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    spool = Spool(args.spool)
    controller = QualityController(quality_ladder(args.fps, *args.size), args.cpu_budget, args.kbps_budget)
    client = httpx.Client(base_url=args.server, headers={"Authorization": f"Bearer {args.token}"}, timeout=30.0)
    recorder = Recorder(spool, controller, args.segment_seconds)
    uploader = Uploader(spool, client)
    commands = CommandStream(client, recorder.submit)

    interrupted = threading.Event()
    previous_handlers = {
        number: signal.signal(number, lambda *_: interrupted.set()) for number in (signal.SIGINT, signal.SIGTERM)
    }
    recorder.start()
    uploader.start()
    commands.start()
    exit_code = 0
    while not interrupted.wait(1.0):
        if not recorder.is_alive():  # its traceback is already on stderr
            log.error("recorder failed; stopping (the spool keeps what was recorded)")
            exit_code = 1
            break
        _show_status(recorder, controller, uploader, spool, commands)

    commands.stop()
    if recorder.is_alive():
        recorder.shutdown()
    uploader.stop(DRAIN_SECONDS)
    client.close()
    for number, previous in previous_handlers.items():  # main() may run inside a larger command
        signal.signal(number, previous)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    log.info("capture client stopped; %s item(s) left in the spool", spool.depth())
    return exit_code


class _StatusClearingHandler(logging.StreamHandler[TextIO]):
    """Log lines go to stderr like the status line: blank that line first so they don't mix."""

    def emit(self, record: logging.LogRecord) -> None:
        if self.stream.isatty():
            self.stream.write(f"\r{'':<{STATUS_WIDTH}}\r")
        super().emit(record)


def _show_status(
    recorder: Recorder, controller: QualityController, uploader: Uploader, spool: Spool, commands: CommandStream
) -> None:
    """One line, rewritten in place, for the agent watching the terminal."""
    if not sys.stderr.isatty():
        return
    quality = controller.current
    link = "" if commands.connected else " | server unreachable"
    line = (
        f"{recorder.status} | {quality.fps} fps {quality.width}x{quality.height}"
        f" | {uploader.rate.kbps():.0f} kbit/s | spool {spool.depth()}{link}"
    )
    sys.stderr.write(f"\r{line:<{STATUS_WIDTH}}")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
