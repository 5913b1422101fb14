"""The README's curl sequence, run as written against a real `callvault serve`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading) :]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_sequence_works_as_written(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CALLVAULT_SQLITE_PATH": str(tmp_path / "readme.sqlite3"), "API": f"http://127.0.0.1:{port}"}
    env.pop("CALLVAULT_DATABASE_URL", None)
    callvault = Path(sys.executable).parent / "callvault"
    server = subprocess.Popen(
        [str(callvault), "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{env['API']}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        # The block calls .venv/bin/callvault; point it at this interpreter's install.
        script = readme_block("### Try the API").replace(".venv/bin/callvault", str(callvault))
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == "paused"
    finally:
        server.terminate()
        server.wait(timeout=30)
