-- depends: 0014.report-columns
-- Each scheduled job (after-call-work timeout, checkpoint, the log's self-audit, retention,
-- transcription) runs once per due time across every server on this database: the server
-- that inserts (job, due_at) first runs it, the others find the row and skip. Not evidence,
-- an operational record: the service prunes rows older than a week.
CREATE TABLE IF NOT EXISTS scheduled_runs (
    job text NOT NULL,
    due_at timestamptz NOT NULL,
    node text NOT NULL,
    claimed_at timestamptz NOT NULL,
    PRIMARY KEY (job, due_at)
);
GRANT SELECT, INSERT, DELETE ON scheduled_runs TO callvault_service;
