-- depends: 0005.capture-columns
-- The Merkle log over every stored event (RFC 9162): one leaf per event in log
-- order, with a gap-free index. Leaves are derived from the log and can be
-- rebuilt; signed checkpoints are not derived and are append-only, like the log.

CREATE TABLE IF NOT EXISTS log_leaves (
    leaf_index bigint PRIMARY KEY,
    notification_id bigint NOT NULL UNIQUE,
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    leaf_data bytea NOT NULL,
    leaf_hash bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS log_leaves_event_idx ON log_leaves (originator_id, originator_version);

CREATE TABLE IF NOT EXISTS checkpoints (
    tree_size bigint PRIMARY KEY,
    root bytea NOT NULL,
    note text NOT NULL,
    signed_at timestamptz NOT NULL
);

CREATE TRIGGER checkpoints_append_only
    BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION callvault_refuse_log_change();
CREATE TRIGGER checkpoints_no_truncate
    BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION callvault_refuse_log_change();

GRANT SELECT, INSERT, DELETE ON log_leaves TO callvault_service;
GRANT SELECT, INSERT ON checkpoints TO callvault_service;
