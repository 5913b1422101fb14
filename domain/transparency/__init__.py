"""The transparency log's formats and proofs, shared by the server that writes them
and the offline verifier that checks them without trusting the server.

- merkle.py: RFC 9162 tree hashing, inclusion and consistency proofs, their verification
- leaves.py: the Merkle leaf of one stored event
- canonical.py: the strict decoding every text format here insists on
- notes.py: C2SP signed notes and their key texts
- checkpoints.py: C2SP checkpoint bodies (the signed tree heads)
- bundle_format.py: the export bundle's names, fields and encodings, defined once
- bundle_decoding.py, checkpoint_checks.py, verifier.py: the offline bundle verifier

Pure: the standard library only. Signatures are checked by the Ed25519 code in
adapters.note_signing, which the verifier is handed.
"""
