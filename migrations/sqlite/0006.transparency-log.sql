-- depends: 0005.capture-columns
-- The Merkle log over every stored event (RFC 9162): one leaf per event in log
-- order, with a gap-free index. Leaves are derived from the log and can be
-- rebuilt; signed checkpoints are not derived and are append-only, like the log.

CREATE TABLE IF NOT EXISTS log_leaves (
    leaf_index INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL UNIQUE,
    originator_id TEXT NOT NULL,
    originator_version INTEGER NOT NULL,
    leaf_data BLOB NOT NULL,
    leaf_hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_leaves_event_idx ON log_leaves (originator_id, originator_version);

CREATE TABLE IF NOT EXISTS checkpoints (
    tree_size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    signed_at TEXT NOT NULL
);

CREATE TRIGGER IF NOT EXISTS checkpoints_no_update
BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only: UPDATE refused');
END;

CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete
BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only: DELETE refused');
END;
