"""C2SP checkpoints and signed notes (domain.transparency, adapters.note_signing).

Known answers are copied verbatim from public sources, named next to each;
none was computed here. Ed25519 is deterministic (RFC 8032), so signing the Go
example text with the Go example key must reproduce the Go signature exactly.
"""

import base64
import hashlib

import pytest

from adapters.note_signing import (
    NoteSigner,
    SignatureError,
    generate_key,
    verify_checkpoint,
    verify_note,
)
from domain.transparency.checkpoints import Checkpoint, CheckpointError, parse_checkpoint
from domain.transparency.merkle import MerkleTree, leaf_hash
from domain.transparency.notes import (
    NoteError,
    NoteSignature,
    ed25519_key_id,
    format_signed_note,
    format_verifier_key,
    parse_signed_note,
    parse_verifier_key,
)

# --- known answers: golang.org/x/mod sumdb/note/note_test.go ------------------
# https://github.com/golang/mod/blob/master/sumdb/note/note_test.go
# (commit 02c991387e35f9e4c0a9b7ce137717055f8d716d): TestNewVerifier, TestNewSigner,
# TestSign, TestVerifierList and TestOpen.

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIGNED = """If you think cryptography is the answer to your problem,
then you don't know what your problem is.

— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=
""".encode()
PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n".encode()  # noqa: E501
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n".encode()  # noqa: E501

# --- known answers: the C2SP specifications -----------------------------------
# https://c2sp.org/tlog-checkpoint (C2SP/C2SP tlog-checkpoint.md, commit
# 2793893976c835db049c194d8f2c4f946dcb70ba); its public key is not published.
C2SP_CHECKPOINT = """example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
""".encode()  # noqa: E501
# https://c2sp.org/signed-note (C2SP/C2SP signed-note.md, commit
# 055287621bf3cd13ff4394418a3e8efc2d5e8ed7): a text with an empty line inside.
C2SP_NOTE = """Ognuno sta solo sul cuor della terra
trafitto da un raggio di sole:

ed è subito sera.

— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=
""".encode()  # noqa: E501


def test_go_key_texts():
    signer = NoteSigner.from_text(PETER_SKEY)
    assert signer.verifier_text == PETER_VKEY
    assert signer.key_id == bytes.fromhex("c74f20a3")
    key = parse_verifier_key(PETER_VKEY)
    assert (key.name, key.key_id) == ("PeterNeumann", bytes.fromhex("c74f20a3"))
    assert ed25519_key_id("PeterNeumann", key.public_key) == key.key_id
    assert format_verifier_key(key.name, key.public_key) == PETER_VKEY
    assert parse_verifier_key(ENOCH_VKEY).key_id == bytes.fromhex("af0cfe78")


def test_go_sign_known_answer():
    assert NoteSigner.from_text(PETER_SKEY).sign(GO_TEXT) == GO_SIGNED
    assert verify_note(GO_SIGNED, PETER_VKEY) == GO_TEXT


def test_go_open_two_signatures():
    note = GO_TEXT + b"\n" + PETER_SIG + ENOCH_SIG
    assert verify_note(note, PETER_VKEY) == GO_TEXT  # Enoch's line is unknown: ignored
    assert verify_note(note, ENOCH_VKEY) == GO_TEXT
    body, sigs = parse_signed_note(note)
    assert [(s.name, s.key_id.hex()) for s in sigs] == [("PeterNeumann", "c74f20a3"), ("EnochRoot", "af0cfe78")]
    assert format_signed_note(body, sigs) == note


def test_go_open_rejections():
    with pytest.raises(SignatureError, match="invalid signature for key PeterNeumann"):
        verify_note(GO_TEXT + b"\n" + PETER_SIG[:60] + b"ABCD" + PETER_SIG[60:], PETER_VKEY)
    misnamed = PETER_SIG.replace(b"PeterNeumann", b"CarmenSandiego")
    wrong_hash = PETER_SIG.replace(b"x08g", b"xxxx")
    for sig in (misnamed, wrong_hash):
        with pytest.raises(SignatureError, match="no signature by key"):
            verify_note(GO_TEXT + b"\n" + sig, PETER_VKEY)
    bad_msgs = [  # TestOpen's badMsgs
        GO_TEXT,
        GO_TEXT + b"\n",
        GO_TEXT + b"\n" + PETER_SIG[:-1],
        b"\x01" + GO_TEXT + b"\n" + PETER_SIG,
        b"\xff" + GO_TEXT + b"\n" + PETER_SIG,
        GO_TEXT
        + b"\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=".encode(),  # noqa: E501
        GO_TEXT + b"\n" + PETER_SIG + b"Unexpected line.\n",
    ]
    for msg in bad_msgs:
        with pytest.raises(NoteError):
            parse_signed_note(msg)
        with pytest.raises(SignatureError, match="malformed note"):
            verify_note(msg, PETER_VKEY)
    with pytest.raises(NoteError):  # TestOpen: more than 100 signatures
        parse_signed_note(GO_TEXT + b"\n" + PETER_SIG * 101)


def _manglings(text):
    """TestNewVerifier/TestNewSigner: every proper substring, every char + 1."""
    for i in range(len(text) + 1):
        for j in range(i + 1, len(text) + 1):
            if (i, j) != (0, len(text)):
                yield text[i:j]
    for i in range(len(text)):
        yield text[:i] + chr(ord(text[i]) + 1) + text[i + 1 :]


def test_go_key_manglings_rejected():
    for bad in _manglings(PETER_VKEY):
        with pytest.raises(ValueError):
            parse_verifier_key(bad)
    for bad in (  # TestNewVerifier: wrong key length / unknown algorithm, adjusted hashes
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ):
        with pytest.raises(NoteError):
            parse_verifier_key(bad)
    for bad in _manglings(PETER_SKEY):
        with pytest.raises(ValueError):
            NoteSigner.from_text(bad)


def test_c2sp_checkpoint_example():
    body, sigs = parse_signed_note(C2SP_CHECKPOINT)
    cp = parse_checkpoint(body)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.body() == body
    assert [(s.name, len(s.signature)) for s in sigs] == [("example.com/behind-the-sofa", 64)]
    assert format_signed_note(body, sigs) == C2SP_CHECKPOINT


def test_c2sp_note_example_splits_at_last_blank_line():
    body, sigs = parse_signed_note(C2SP_NOTE)
    assert body.decode().endswith(":\n\ned è subito sera.\n")
    assert [s.name for s in sigs] == ["quasimodo.example/salvatore"]
    assert format_signed_note(body, sigs) == C2SP_NOTE


# transparency-dev/formats log/checkpoint_test.go (TestUnmarshalLogState), the
# cases it rejects; its accepted ones carry non-32-byte test hashes.
TRANSPARENCY_DEV_INVALID = [
    b"Head\n9944\n",
    b"\n9944\ndGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==\n",
    b"Log\n123\nYmFuYW5hcw==",
    b"Log\nbananas\ndGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==\n",
    b"Log\n-34\ndGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==\n",
    b"Log\n3438945738945739845734895735\ndGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==\n",
    b"Log\n123\nThisIsn'tBase64\n",
]

# --- checkpoint body ------------------------------------------------------------

ROOT = hashlib.sha256(b"root").digest()
ROOT_B64 = base64.b64encode(ROOT)


def test_checkpoint_round_trip_and_extensions():
    for cp in (Checkpoint("callvault.example/log", 0, ROOT), Checkpoint("Moon Log", 2**64 - 1, ROOT)):
        assert cp.body() == f"{cp.origin}\n{cp.size}\n{ROOT_B64.decode()}\n".encode()
        assert parse_checkpoint(cp.body()) == cp
    body = b"o\n7\n" + ROOT_B64 + b"\n6086d1a9\nWaxing gibbous\n"
    cp = parse_checkpoint(body)
    assert (cp.origin, cp.size, cp.root, cp.extensions) == ("o", 7, ROOT, ("6086d1a9", "Waxing gibbous"))
    assert cp.body() == body


@pytest.mark.parametrize(
    "body",
    [
        b"o\n01\n" + ROOT_B64 + b"\n",  # leading zero
        b"o\n00\n" + ROOT_B64 + b"\n",
        b"o\n-1\n" + ROOT_B64 + b"\n",  # negative
        b"o\n+1\n" + ROOT_B64 + b"\n",
        b"o\n 1\n" + ROOT_B64 + b"\n",
        b"o\n1_000\n" + ROOT_B64 + b"\n",
        "o\n\u0661\n".encode() + ROOT_B64 + b"\n",  # a non-ASCII digit
        b"o\n18446744073709551616\n" + ROOT_B64 + b"\n",  # 2**64
        b"o\n\n" + ROOT_B64 + b"\n",
        b"o\n1\n" + base64.b64encode(ROOT[:31]) + b"\n",  # 31-byte root
        b"o\n1\n" + base64.b64encode(ROOT + b"x") + b"\n",  # 33-byte root
        b"o\n1\n" + ROOT_B64.rstrip(b"=") + b"\n",  # unpadded
        b"o\n1\n" + ROOT_B64[:-2] + b"J=\n",  # non-zero padding bits
        b"o\n1\n" + base64.urlsafe_b64encode(b"\xfb" * 32) + b"\n",
        b"o\n1\n" + ROOT_B64,  # missing trailing newline
        b"o\n1\n" + ROOT_B64 + b"\n\n",  # empty extension line
        b"o\n1\n" + ROOT_B64 + b"\next\n\n",
        b"o\r\n1\n" + ROOT_B64 + b"\n",  # control character
        b"\xffo\n1\n" + ROOT_B64 + b"\n",  # not UTF-8
        b"",
        *TRANSPARENCY_DEV_INVALID,
    ],
)
def test_malformed_checkpoints_rejected(body):
    with pytest.raises(CheckpointError):
        parse_checkpoint(body)


@pytest.mark.parametrize(
    "args",
    [
        ("", 1, ROOT),
        ("a\nb", 1, ROOT),
        ("o", -1, ROOT),
        ("o", 2**64, ROOT),
        ("o", True, ROOT),
        ("o", 1, ROOT[:31]),
        ("o", 1, ROOT.hex()),
    ],
)
def test_checkpoint_constructor_validates(args):
    with pytest.raises(CheckpointError):
        Checkpoint(*args)


# --- signing, verifying, tampering ---------------------------------------------


@pytest.fixture(scope="module")
def log_key():
    return generate_key("callvault.example/log")


@pytest.fixture(scope="module")
def signed(log_key):
    leaves = [leaf_hash(b"recording %d" % i) for i in range(11)]
    cp = Checkpoint("callvault.example/log", 11, MerkleTree(leaves).root())
    return cp, NoteSigner.from_text(log_key[0]).sign_checkpoint(cp)


def test_generated_keys_round_trip(log_key):
    skey, vkey = log_key
    signer = NoteSigner.from_text(skey)
    assert signer.verifier_text == vkey
    key = parse_verifier_key(vkey)
    assert format_verifier_key(key.name, key.public_key) == vkey
    assert skey.startswith("PRIVATE+KEY+callvault.example/log+" + signer.key_id.hex() + "+")
    assert skey.split("+", 4)[4] not in repr(signer)


def test_signed_checkpoint_verifies(log_key, signed):
    cp, note = signed
    assert note.startswith(cp.body() + "\n— callvault.example/log ".encode())
    assert verify_checkpoint(note, log_key[1]) == cp
    assert verify_note(note, log_key[1]) == cp.body()


def test_any_flipped_byte_fails(log_key, signed):
    _, note = signed
    for i in range(len(note)):
        for mask in (0x01, 0x02, 0x20, 0x80):
            tampered = note[:i] + bytes([note[i] ^ mask]) + note[i + 1 :]
            with pytest.raises(SignatureError):
                verify_note(tampered, log_key[1])


def test_wrong_key_rejected(log_key, signed):
    _, note = signed
    other_name = generate_key("callvault.example/other")[1]
    same_name = generate_key("callvault.example/log")[1]  # same name, other key and ID
    for vkey in (other_name, same_name):
        with pytest.raises(SignatureError, match="no signature by key"):
            verify_note(note, vkey)
    # A line claiming the right name and ID but signed by another key.
    body, _ = parse_signed_note(note)
    impostor = NoteSigner.from_text(generate_key("callvault.example/log")[0])
    _, [forged] = parse_signed_note(impostor.sign(body))
    key_id = parse_verifier_key(log_key[1]).key_id
    forged_note = format_signed_note(body, [NoteSignature(forged.name, key_id, forged.signature)])
    with pytest.raises(SignatureError, match="invalid signature"):
        verify_note(forged_note, log_key[1])


def test_unknown_signatures_ignored(log_key, signed):
    _, note = signed
    body, [ours] = parse_signed_note(note)
    witness = NoteSigner.from_text(generate_key("witness.example/w1")[0])
    _, [cosig] = parse_signed_note(witness.sign(body))
    others = [
        cosig,
        NoteSignature(ours.name, b"\0\0\0\0", ours.signature),  # same name, other ID
        NoteSignature("other.example/log", ours.key_id, b"\x01" * 64),  # same ID, other name
        NoteSignature("pq.example/log", b"abcd", b"\x02" * 2420),  # some other algorithm
    ]
    assert verify_note(format_signed_note(body, [*others, ours]), log_key[1]) == body
    assert verify_note(format_signed_note(body, [*others, ours]), witness.verifier_text) == body
    # But every line by our key must verify: a bad duplicate spoils the note.
    bad = NoteSignature(ours.name, ours.key_id, bytes(64))
    with pytest.raises(SignatureError, match="invalid signature"):
        verify_note(format_signed_note(body, [ours, bad]), log_key[1])


def test_note_assembly_rejects_malformed():
    sig = NoteSignature("k", b"1234", b"s")
    for body in (b"abc", b"a\x00\n", b"\xff\n"):
        with pytest.raises(NoteError):
            format_signed_note(body, [sig])
    with pytest.raises(NoteError):
        format_signed_note(b"a\n", [])
    for name in ("a+b", "Bad Name", "", "a\u00a0b", "a\u2028b"):
        with pytest.raises(NoteError):
            NoteSignature(name, b"1234", b"s")
    with pytest.raises(NoteError):
        NoteSignature("k", b"123", b"s")
