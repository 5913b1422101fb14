"""Call starts through HTTP on two versions of the code at once, requests alternated.

Run by hand (never in tests):
    git worktree add /tmp/wt-before <commit>
    .venv/bin/python bench/call_start_pair.py --before /tmp/wt-before --starts 1500

Two `callvault serve` processes, one from the checkout given as --before (its code
imported through PYTHONPATH) and one from this checkout, each on a fresh PostgreSQL
database of its own that its own code migrated. One client starts a call on each in
turn (alternating which goes first) and asks each for /health after it, so both see
the same moments of a noisy machine; on a shared 2-core machine runs of the same code
minutes apart differ by more than the changes being compared. Half the calls are by a
customer seen before. Prints p50/p90 of each, and after/before.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from scratch_databases import DEFAULT_ADMIN_URL, create_scratch_database, drop_scratch_database

CHECKOUT = Path(__file__).resolve().parent.parent
CALLVAULT = CHECKOUT / ".venv" / "bin" / "callvault"
WARM_UP = 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`callvault serve` of one checkout's code, on a scratch database, with a telephony token."""

    def __init__(self, code: Path, admin_url: str, scratch: Path) -> None:
        self.database, url = create_scratch_database(admin_url, prefix="callvault_pair")
        self.env = {
            **os.environ,
            "PYTHONPATH": str(code),
            "CALLVAULT_DATABASE_URL": url,
            "CALLVAULT_MASTER_KEY_FILE": str(scratch / f"{self.database}.key"),
            "CALLVAULT_LOG_LEVEL": "WARNING",
        }
        subprocess.run([CALLVAULT, "migrate"], env=self.env, cwd=code, check=True, capture_output=True)
        added = subprocess.run(
            [CALLVAULT, "users", "add", "pbx", "--role", "telephony"],
            env=self.env,
            cwd=code,
            check=True,
            capture_output=True,
            text=True,
        )
        token = added.stdout.strip().splitlines()[-1].split()[-1]
        port = _free_port()
        self.log = scratch / f"{self.database}.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [CALLVAULT, "serve", "--port", str(port)], env=self.env, cwd=code, stdout=out, stderr=subprocess.STDOUT
            )
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log.read_text()[-2000:]}")
            try:
                if self.client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not answer /health within 60 s:\n{self.log.read_text()[-2000:]}")

    def start_call(self, n: int) -> float:
        body = {
            "interaction_id": f"pair-{n}",
            "agent_id": f"agent-{n % 50}",
            "customer_id": f"cust-{n // 2}",  # every other call by the customer of the call before
            "queue": "sales",
            "direction": "inbound",
            "tags": {},
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        began = time.perf_counter()
        answer = self.client.post("/v1/recordings", json=body)
        took = time.perf_counter() - began
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"call start answered {answer.status_code}: {answer.text}")
        return took

    def health(self) -> float:
        began = time.perf_counter()
        self.client.get("/health").raise_for_status()
        return time.perf_counter() - began

    def close(self, admin_url: str) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        drop_scratch_database(admin_url, self.database)


def _summary(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return f"p50 {1000 * statistics.median(ordered):.2f} ms, p90 {1000 * ordered[int(0.9 * len(ordered))]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout (worktree) of the code to compare with")
    parser.add_argument("--starts", type=int, default=1500, help="timed call starts on each server")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory() as scratch:
        try:
            for label, code in (("before", args.before.resolve()), ("after", CHECKOUT)):
                servers[label] = Server(code, args.admin_url, Path(scratch))
            starts: dict[str, list[float]] = {label: [] for label in servers}
            health: dict[str, list[float]] = {label: [] for label in servers}
            for n in range(-WARM_UP, args.starts):
                order = list(servers) if n % 2 else list(servers)[::-1]
                for label in order:
                    took = servers[label].start_call(n + WARM_UP)
                    checked = servers[label].health()
                    if n >= 0:
                        starts[label].append(took)
                        health[label].append(checked)
            print(f"# {args.starts} call starts on each server, alternated; load average {os.getloadavg()}")
            for label in servers:
                print(f"{label}: call start {_summary(starts[label])}; GET /health {_summary(health[label])}")
            ratio = statistics.median(starts["after"]) / statistics.median(starts["before"])
            print(f"after / before, call start p50: {ratio:.3f}")
        finally:
            for server in servers.values():
                server.close(args.admin_url)


if __name__ == "__main__":
    main()
