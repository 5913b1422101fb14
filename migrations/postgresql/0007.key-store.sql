-- depends: 0006.transparency-log
-- Data keys, wrapped by the master key: one per customer, one per recording.
-- Destroying a key makes what it sealed in the log unreadable (crypto-shredding),
-- so unlike the log these rows are deleted. A deleted row's tuple stays on disk
-- until VACUUM reclaims it; it is a wrapped key, useless without the master key.
-- A recording's row outlives its customer's key: that alone makes it unreadable.

CREATE TABLE IF NOT EXISTS customer_keys (
    customer_ref text PRIMARY KEY,
    wrapped bytea NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS recording_keys (
    recording_id uuid PRIMARY KEY,
    customer_ref text NOT NULL,
    wrapped bytea NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS recording_keys_customer_idx ON recording_keys (customer_ref);

-- Made, read and destroyed, never changed.
REVOKE ALL ON customer_keys, recording_keys FROM callvault_service;
GRANT SELECT, INSERT, DELETE ON customer_keys, recording_keys TO callvault_service;
