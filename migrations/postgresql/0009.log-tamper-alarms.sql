-- depends: 0008.blind-indexes-in-views
-- The transparency log's tamper alarm: raised when stored events or leaves no
-- longer match what the log recorded or signed (api/transparency.py). One row
-- per distinct finding; while any row exists the log signs nothing and /ready
-- answers degraded. Only an operator who has investigated removes them: the
-- service may add alarms, never clear one.
CREATE TABLE IF NOT EXISTS log_alarms (
    reason text PRIMARY KEY,
    found_by text NOT NULL,
    raised_at timestamptz NOT NULL
);
GRANT SELECT, INSERT ON log_alarms TO callvault_service;

-- Export bundles carry the first checkpoint of every month: found by time.
CREATE INDEX IF NOT EXISTS checkpoints_signed_at_idx ON checkpoints (signed_at);
