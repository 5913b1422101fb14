"""`callvault-capture` is its own small distribution: it installs alone, and needs nothing of the server."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

CLIENT = Path(__file__).parents[1] / "capture_client"
SERVER_SIDE = {"domain", "adapters", "projections", "api", "eventsourcing", "litestar", "psycopg", "msgspec"}


def test_the_client_imports_nothing_of_the_server():
    imported = set()
    for source in CLIENT.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert "capture_client" in imported and not imported & SERVER_SIDE


def test_the_client_installs_into_a_fresh_environment_on_its_own(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the work tree
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        check=True,
        timeout=600,
        capture_output=True,
    )

    subprocess.run([python, "-c", "import capture_client.cli"], check=True, cwd=tmp_path)
    script = venv / "bin" / "callvault-capture"
    help_text = subprocess.run([script, "--help"], check=True, capture_output=True, text=True)
    assert "--kbps-budget" in help_text.stdout
    listed = subprocess.run([python, "-m", "pip", "list", "--format=json"], check=True, capture_output=True, text=True)
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert "callvault-capture" in installed
    assert not installed & {"eventsourcing", "litestar", "psycopg", "psycopg-binary", "msgspec", "callvault"}
