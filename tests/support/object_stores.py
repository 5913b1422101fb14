"""Real object-store APIs for the tests: S3 (moto's server, as obstore's own tests use) and Azure
Blob (Microsoft's Azurite, from npm), each started once per test session on free ports.

Without them installed the tests that need them skip locally; with CI=true they fail
instead, so CI can never pass by skipping (`.ci/run` installs Azurite; moto is in the
`dev` extra). Each test gets its own buckets (containers), named by a fresh id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from tests.support.ports import free_port

REGION = "us-east-1"
# Azurite's one account and its published key (https://learn.microsoft.com/azure/storage/common/storage-use-azurite).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURE_VERSION = "2021-08-06"
START_SECONDS = 30


@dataclass(frozen=True)
class Cloud:
    """One object-store API: how callvault's settings name a bucket on it (``url``), the
    provider environment variables its credentials come from, and how a test makes a bucket."""

    name: str
    scheme: str
    query: str
    credentials: dict[str, str]
    create_bucket: Callable[[str], None]

    def url(self, bucket: str, prefix: str) -> str:
        return f"{self.scheme}://{bucket}/{prefix}?{self.query}"

    def new_bucket(self) -> str:
        bucket = f"cv-{uuid.uuid4().hex[:16]}"
        self.create_bucket(bucket)
        return bucket


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI must run the object-store tests (.ci/run installs what they need)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def s3() -> Iterator[Cloud]:
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as missing:
        _unavailable(f"moto[server] is not installed ({missing})")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()  # returns once the server answers
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"AWS_ACCESS_KEY_ID": "callvault-test", "AWS_SECRET_ACCESS_KEY": "callvault-test"}
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
    )
    try:
        yield Cloud(
            "s3",
            "s3",
            f"endpoint={endpoint}&region={REGION}&allow_http=true",
            credentials,
            lambda bucket: client.create_bucket(Bucket=bucket),
        )
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    azurite = shutil.which("azurite-blob")
    if azurite is None:
        _unavailable("Azurite is not installed (npm install -g azurite@3.35.0)")
    port, workdir = free_port(), tmp_path_factory.mktemp("azurite")
    log = workdir / "azurite.log"
    with log.open("wb") as output:  # the child keeps its own copy of the file
        server = subprocess.Popen(
            [
                str(azurite),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--silent",
            ],
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    try:
        _wait_for_port(port, server, log)
        yield Cloud(
            "azure",
            "az",
            f"endpoint={endpoint}&account_name={AZURITE_ACCOUNT}&allow_http=true",
            {"AZURE_STORAGE_ACCOUNT_KEY": AZURITE_KEY},
            lambda container: _create_container(endpoint, container),
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(params=["s3", "azure"])
def cloud(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    """Each object-store API in turn, its credentials in the environment as a deployment sets them."""
    chosen: Cloud = request.getfixturevalue(request.param)
    for name, value in chosen.credentials.items():
        monkeypatch.setenv(name, value)
    return chosen


def _wait_for_port(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    """Until the server accepts connections (it has no readiness signal with --silent)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"Azurite exited with {server.returncode}: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Azurite did not listen on port {port} within {START_SECONDS} s")


def _create_container(endpoint: str, container: str) -> None:
    """Create Container, signed with the account's shared key: obstore reads and writes blobs but
    makes no containers, and one signed request needs no Azure SDK."""
    headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": AZURE_VERSION}
    # https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key: the verb, eleven
    # empty standard headers, the x-ms-* headers, then the resource (the account twice: path style).
    string_to_sign = "\n".join(
        [
            "PUT",
            *[""] * 11,
            *(f"{name}:{value}" for name, value in sorted(headers.items())),
            f"/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{container}\nrestype:container",
        ]
    )
    signature = hmac.new(base64.b64decode(AZURITE_KEY), string_to_sign.encode(), hashlib.sha256).digest()
    headers["Authorization"] = f"SharedKey {AZURITE_ACCOUNT}:{base64.b64encode(signature).decode()}"
    response = httpx.put(f"{endpoint}/{container}", params={"restype": "container"}, headers=headers)
    assert response.status_code == 201, response.text
