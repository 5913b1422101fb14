"""The offline verifier's checks of signed checkpoints: the bundle's own, the earlier
ones it carries with consistency proofs, and the one the verifier kept itself.

Signatures are checked by the injected ``NoteVerifier`` (see verifier.py); the
body it returns must also be the note's own, so a careless verifier cannot
substitute one. Everything else (note and checkpoint syntax, the proofs) is
checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from domain.transparency import bundle_decoding as decode
from domain.transparency.bundle_decoding import BundleError
from domain.transparency.bundle_format import (
    CHECKPOINT,
    CONSISTENCY_FIELDS,
    SERVED_CONSISTENCY_FIELDS,
    ConsistencyFile,
    ServedConsistency,
    consistency_name,
    earlier_checkpoint_name,
    proof_file_size,
)
from domain.transparency.checkpoints import Checkpoint, parse_checkpoint
from domain.transparency.merkle import verify_consistency
from domain.transparency.notes import parse_signed_note

# `.file` of errors about the verifier's own older checkpoint, which is not a
# member of the bundle (given as ``known_checkpoint``).
KNOWN_CHECKPOINT = "<known checkpoint>"
# ... and of a consistency proof for it fetched from the log (``known_consistency``),
# for a known checkpoint older than those the bundle carries proofs for.
KNOWN_CONSISTENCY = "<consistency proof>"


class NoteVerifier(Protocol):
    """``adapters.note_signing.verify_note``: the signed body, or ValueError."""

    def __call__(self, note: bytes, verifier_key_text: str, /) -> bytes: ...


def signed_checkpoint(
    note: bytes, file: str, key_text: str, verify_note: NoteVerifier, what: str = "checkpoint"
) -> Checkpoint:
    try:
        body = verify_note(note, key_text)
    except ValueError as exc:
        raise BundleError(file, f"{what} signature does not verify: {exc}") from None
    try:
        own_body, _ = parse_signed_note(note)
    except ValueError as exc:
        raise BundleError(file, f"{what} is not a signed note: {exc}") from None
    if body != own_body:
        raise BundleError(file, f"{what}: the verifier returned a body that is not the note's")
    try:
        return parse_checkpoint(body)
    except ValueError as exc:
        raise BundleError(file, f"{what} body is not a checkpoint: {exc}") from None


def check_earlier(
    files: Mapping[str, bytes], checkpoint: Checkpoint, key_text: str, key_name: str, verify_note: NoteVerifier
) -> tuple[dict[int, bytes], list[str]]:
    """Every consistency/N.json with its checkpoints/N.txt: old root of size N per proof."""
    sizes = sorted({s for name in files if (s := proof_file_size(name)) is not None})
    roots: dict[int, bytes] = {}
    checks = []
    for size in sizes:
        note_file, proof_file = earlier_checkpoint_name(size), consistency_name(size)
        old = signed_checkpoint(decode.member(files, note_file), note_file, key_text, verify_note)
        if old.origin != checkpoint.origin:
            raise BundleError(note_file, f"origin {old.origin!r} is not the log's {checkpoint.origin!r}")
        if old.size != size:
            raise BundleError(note_file, f"has size {old.size}, not {size} as its name says")
        # Size 0 is a real checkpoint (C2SP allows it; RFC 9162 defines the empty
        # tree's root): a log signed before its first event. Its proof is empty.
        if not 0 <= size < checkpoint.size:
            raise BundleError(note_file, f"size {size} is not in 0..{checkpoint.size - 1}")
        doc = ConsistencyFile(
            **decode.json_object(decode.member(files, proof_file), proof_file, "consistency proof", CONSISTENCY_FIELDS)
        )
        if decode.integer(doc.old_size, proof_file, "old_size") != size:
            raise BundleError(proof_file, f"old_size {doc.old_size} is not {size} as its name says")
        if decode.integer(doc.new_size, proof_file, "new_size") != checkpoint.size:
            raise BundleError(proof_file, f"new_size {doc.new_size} is not the checkpoint size {checkpoint.size}")
        old_root = bytes.fromhex(decode.sha256_hex(doc.old_root, proof_file, "old_root"))
        if old_root != old.root:
            raise BundleError(proof_file, f"old_root is not the root of {note_file}")
        proof = decode.hash_list(doc.proof, proof_file, "proof")
        try:
            verify_consistency(size, checkpoint.size, old_root, checkpoint.root, proof)
        except ValueError as exc:
            raise BundleError(proof_file, f"consistency proof fails: {exc}") from None
        roots[size] = old_root
        checks.append(f"{note_file}: signed by {key_name}, size {size}")
        checks.append(f"{proof_file}: checkpoint extends {note_file}")
    return roots, checks


def check_known(
    known: bytes,
    checkpoint: Checkpoint,
    roots: dict[int, bytes],
    key_text: str,
    verify_note: NoteVerifier,
    served: bytes | None,
) -> str:
    """The bundle's checkpoint extends the one the verifier kept: by the bundle's own
    proof for that size, or by one the log served (``served``)."""
    if not known:
        raise BundleError(KNOWN_CHECKPOINT, "is empty")
    old = signed_checkpoint(known, KNOWN_CHECKPOINT, key_text, verify_note, "known checkpoint")
    if old.origin != checkpoint.origin:
        raise BundleError(KNOWN_CHECKPOINT, f"is of log {old.origin!r}, not {checkpoint.origin!r}")
    if old.size > checkpoint.size:
        raise BundleError(KNOWN_CHECKPOINT, f"size {old.size} is newer than the bundle's checkpoint {checkpoint.size}")
    if old.size in (0, checkpoint.size):  # nothing to prove: the roots must simply agree
        try:
            verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root, [])
        except ValueError as exc:
            raise BundleError(CHECKPOINT, f"conflicts with the known checkpoint (split view): {exc}") from None
        return f"consistency: checkpoint extends the known checkpoint of size {old.size}"
    if served is not None:
        _check_served(served, old, checkpoint)
        return f"consistency: checkpoint extends the known checkpoint of size {old.size} (proof given apart)"
    proof_file = consistency_name(old.size)
    if old.size not in roots:
        raise BundleError(
            proof_file,
            f"missing: no consistency proof for the known checkpoint's size {old.size} "
            "(get one from the log: GET /v1/log/proofs/consistency)",
        )
    if roots[old.size] != old.root:
        raise BundleError(proof_file, "old_root is not the known checkpoint's root (split view)")
    return f"consistency: checkpoint extends the known checkpoint of size {old.size}"


def _check_served(served: bytes, old: Checkpoint, checkpoint: Checkpoint) -> None:
    """A proof the log served for (old size, bundle size): both roots are signed, so
    whoever delivered the proof need not be trusted, only the arithmetic."""
    file = KNOWN_CONSISTENCY
    doc = ServedConsistency(**decode.json_object(served, file, "consistency proof", SERVED_CONSISTENCY_FIELDS))
    if decode.integer(doc.old_size, file, "old_size") != old.size:
        raise BundleError(file, f"old_size {doc.old_size} is not the known checkpoint's size {old.size}")
    if decode.integer(doc.new_size, file, "new_size") != checkpoint.size:
        raise BundleError(file, f"new_size {doc.new_size} is not the bundle's checkpoint size {checkpoint.size}")
    proof = decode.hash_list(doc.proof, file, "proof")
    try:
        verify_consistency(old.size, checkpoint.size, old.root, checkpoint.root, proof)
    except ValueError as exc:
        raise BundleError(
            file, f"does not prove the checkpoint extends the known checkpoint (split view?): {exc}"
        ) from None
