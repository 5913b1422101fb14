-- depends: 0001.stored-events
-- Views folded from the log. They may be emptied and rebuilt at any time.

CREATE TABLE IF NOT EXISTS tracking (
    application_name TEXT PRIMARY KEY,
    notification_id INTEGER
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS recordings (
    recording_id TEXT PRIMARY KEY,
    interaction_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    queue TEXT NOT NULL,
    direction TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    acw_ended_at TEXT,
    duration_ms INTEGER,
    status TEXT NOT NULL,
    screen_selected INTEGER NOT NULL,
    segments_received INTEGER NOT NULL,
    highest_segment INTEGER NOT NULL,
    missing_segments TEXT NOT NULL,
    missing_count INTEGER NOT NULL,
    legal_hold INTEGER NOT NULL,
    hold_cases TEXT NOT NULL,
    last_access_at TEXT,
    tags TEXT NOT NULL,
    version INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS recordings_started_idx ON recordings (started_at DESC, recording_id DESC);
CREATE INDEX IF NOT EXISTS recordings_agent_idx ON recordings (agent_id, started_at DESC);
CREATE INDEX IF NOT EXISTS recordings_customer_idx ON recordings (customer_id, started_at DESC);
CREATE INDEX IF NOT EXISTS recordings_queue_idx ON recordings (queue, started_at DESC);
CREATE INDEX IF NOT EXISTS recordings_status_idx ON recordings (status, started_at DESC);

CREATE TABLE IF NOT EXISTS audit_trail (
    notification_id INTEGER PRIMARY KEY,
    recording_id TEXT NOT NULL,
    interaction_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    reason_code TEXT NOT NULL,
    detail TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS audit_trail_actor_idx ON audit_trail (actor, recorded_at);
CREATE INDEX IF NOT EXISTS audit_trail_recording_idx ON audit_trail (recording_id, notification_id);
CREATE INDEX IF NOT EXISTS audit_trail_action_idx ON audit_trail (action, recorded_at);
CREATE INDEX IF NOT EXISTS audit_trail_recorded_idx ON audit_trail (recorded_at);
