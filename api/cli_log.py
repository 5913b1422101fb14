"""Command-line tools of the transparency log: keys, checkpoints, offline verify."""

from __future__ import annotations

import zipfile
from pathlib import Path

import click

from adapters import note_signing
from adapters.checkpoint_store import write_key_pair
from domain.bundle_verify import BundleError, verify_bundle


@click.group()
def keys() -> None:
    """The Ed25519 key that signs the log's checkpoints."""


@keys.command("generate")
@click.option("--name", required=True, help="Key name, usually the log's origin (CALLVAULT_LOG_ORIGIN).")
@click.option("--out", "path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Private key file to create (mode 0600); the verifier key goes to OUT.pub.")
def keys_generate(name: str, path: Path) -> None:
    """Create a signing key; point CALLVAULT_SIGNING_KEY_FILE at it, publish OUT.pub."""
    if path.exists():
        raise click.ClickException(f"{path} exists; a signing key is never overwritten")
    click.echo(write_key_pair(path, name))


@click.command()
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--public-key", "public_key", required=True, help="Verifier key text, or a file holding it.")
@click.option("--known-checkpoint", "known", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A signed checkpoint you kept earlier: the bundle's log must extend it.")
def verify(bundle: Path, public_key: str, known: Path | None) -> None:
    """Check an export bundle offline: hashes, proofs, signatures, media. Exits 1 on the first failure."""
    key = Path(public_key).read_text().strip() if Path(public_key).is_file() else public_key.strip()
    try:
        files = read_bundle(bundle)
        checks = verify_bundle(files, key, known.read_bytes() if known else None,
                               verify_note=note_signing.verify_note)
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
        with zipfile.ZipFile(path) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
            if len(names) != len(set(names)):
                raise BundleError(path.name, "the zip holds the same name twice")
            return {name: archive.read(name) for name in names}
    except (zipfile.BadZipFile, OSError) as error:
        raise BundleError(path.name, f"not a readable zip: {error}") from None
