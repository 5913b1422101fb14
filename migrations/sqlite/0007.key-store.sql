-- depends: 0006.transparency-log
-- Data keys, wrapped by the master key: one per customer, one per recording.
-- Destroying a key makes what it sealed in the log unreadable (crypto-shredding),
-- so unlike the log these rows are deleted; the service sets secure_delete first.
-- A recording's row outlives its customer's key: that alone makes it unreadable.

CREATE TABLE IF NOT EXISTS customer_keys (
    customer_ref TEXT PRIMARY KEY,
    wrapped BLOB NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS recording_keys (
    recording_id TEXT PRIMARY KEY,
    customer_ref TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recording_keys_customer_idx ON recording_keys (customer_ref);
