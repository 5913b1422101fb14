-- depends: 0014.report-columns
-- Each scheduled job runs once per due time across every server on this database: the
-- server that inserts (job, due_at) first runs it, the others find the row and skip.
-- An operational record, not evidence: the service prunes rows older than a week.
CREATE TABLE IF NOT EXISTS scheduled_runs (
    job TEXT NOT NULL,
    due_at TEXT NOT NULL,
    node TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (job, due_at)
);
