-- The event log, in the shape eventsourcing's SQLite recorder expects,
-- owned by migrations so its protections exist before the first event.

CREATE TABLE IF NOT EXISTS stored_events (
    originator_id TEXT,
    originator_version INTEGER,
    topic TEXT,
    state BLOB,
    PRIMARY KEY (originator_id, originator_version)
);

-- Append-only: nothing in the log is ever changed or removed.
CREATE TRIGGER IF NOT EXISTS stored_events_no_update
BEFORE UPDATE ON stored_events
BEGIN
    SELECT RAISE(ABORT, 'stored_events is append-only: UPDATE refused');
END;

CREATE TRIGGER IF NOT EXISTS stored_events_no_delete
BEFORE DELETE ON stored_events
BEGIN
    SELECT RAISE(ABORT, 'stored_events is append-only: DELETE refused');
END;
