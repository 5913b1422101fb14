"""Command-line tools of the transparency log: keys, checkpoints, offline verify."""

from __future__ import annotations

from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import click

from adapters import note_signing
from adapters.checkpoint_store import write_key_pair
from domain.transparency.bundle_decoding import zip_members
from domain.transparency.bundle_format import CHECKPOINT
from domain.transparency.checkpoints import checkpoint_of_note
from domain.transparency.verifier import BundleError, verify_bundle

FETCH_TIMEOUT_SECONDS = 30


@click.group()
def keys() -> None:
    """The Ed25519 key that signs the log's checkpoints."""


@keys.command("generate")
@click.option("--name", required=True, help="Key name, usually the log's origin (CALLVAULT_LOG_ORIGIN).")
@click.option(
    "--out",
    "path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key file to create (mode 0600); the verifier key goes to OUT.pub.",
)
def keys_generate(name: str, path: Path) -> None:
    """Create a signing key; point CALLVAULT_SIGNING_KEY_FILE at it, publish OUT.pub."""
    if path.exists():
        raise click.ClickException(f"{path} exists; a signing key is never overwritten")
    click.echo(write_key_pair(path, name))


@click.command()
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", "public_key", required=True, help="Verifier key text, or a file holding it.")
@click.option(
    "--known-checkpoint",
    "known",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A signed checkpoint you kept earlier: the bundle's log must extend it.",
)
@click.option(
    "--consistency-proof",
    "proof",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="For a known checkpoint the bundle has no proof for: the JSON of "
    "GET /v1/log/proofs/consistency?from=<its size>&to=<the bundle's size>.",
)
@click.option(
    "--fetch",
    "server",
    metavar="URL",
    help="Or fetch that proof from the server at URL (it need not be trusted: the proof is checked "
    "against both signed roots).",
)
@click.option("--token", envvar="CALLVAULT_TOKEN", help="Bearer token for --fetch (legal or auditor role).")
def verify(
    bundle: Path, public_key: str, known: Path | None, proof: Path | None, server: str | None, token: str | None
) -> None:
    """Check an export bundle offline: hashes, proofs, signatures, media. Exits 1 on the first failure."""
    if (proof or server) and known is None:
        raise click.UsageError("--consistency-proof and --fetch need --known-checkpoint")
    if proof and server:
        raise click.UsageError("give either --consistency-proof or --fetch")
    if server and not token:
        raise click.UsageError("--fetch needs --token (or CALLVAULT_TOKEN)")
    key = Path(public_key).read_text().strip() if Path(public_key).is_file() else public_key.strip()
    try:
        files = read_bundle(bundle)
        kept = known.read_bytes() if known else None
        served = proof.read_bytes() if proof else None
        if server and kept is not None and token:
            served = fetch_consistency(server, token, kept, files)
        checks = verify_bundle(files, key, kept, verify_note=note_signing.verify_note, known_consistency=served)
    except BundleError as failure:
        click.echo(f"FAILED {failure}", err=True)
        raise SystemExit(1) from None
    except ValueError as bad_key:
        raise click.ClickException(f"unusable public key: {bad_key}") from None
    for check in checks:
        click.echo(f"ok  {check}")
    click.echo(f"verified: {bundle.name}")


def read_bundle(path: Path) -> dict[str, bytes]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BundleError(path.name, f"not readable: {error}") from None
    return zip_members(data, path.name)


def fetch_consistency(server: str, token: str, known: bytes, files: dict[str, bytes]) -> bytes | None:
    """The server's consistency proof from the known checkpoint's size to the bundle's.

    The sizes are read here without checking signatures, only to ask; verify_bundle
    then checks the answer against both signed roots (and names what is malformed,
    in which case nothing is fetched).
    """
    try:
        old = checkpoint_of_note(known).size
        new = checkpoint_of_note(files[CHECKPOINT]).size
    except (KeyError, ValueError):
        return None
    query = urlencode({"from": old, "to": new})
    request = Request(
        f"{server.rstrip('/')}/v1/log/proofs/consistency?{query}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    try:
        with urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            proof: bytes = response.read()
            return proof
    except (URLError, OSError) as error:
        raise click.ClickException(f"could not fetch the consistency proof from {server}: {error}") from None
