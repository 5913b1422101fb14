-- depends: 0001.stored-events
-- Views folded from the log. They may be emptied and rebuilt at any time.

CREATE TABLE IF NOT EXISTS tracking (
    application_name text PRIMARY KEY,
    notification_id bigint
);

CREATE TABLE IF NOT EXISTS recordings (
    recording_id uuid PRIMARY KEY,
    interaction_id text NOT NULL,
    agent_id text NOT NULL,
    customer_id text NOT NULL,
    queue text NOT NULL,
    direction text NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz,
    acw_ended_at timestamptz,
    duration_ms bigint,
    status text NOT NULL,
    screen_selected boolean NOT NULL,
    segments_received integer NOT NULL,
    highest_segment integer NOT NULL,
    missing_segments jsonb NOT NULL,
    missing_count integer NOT NULL,
    legal_hold boolean NOT NULL,
    hold_cases jsonb NOT NULL,
    last_access_at timestamptz,
    tags jsonb NOT NULL,
    version integer NOT NULL
);

CREATE INDEX IF NOT EXISTS recordings_started_idx ON recordings (started_at DESC, recording_id DESC);
CREATE INDEX IF NOT EXISTS recordings_agent_idx ON recordings (agent_id, started_at DESC);
CREATE INDEX IF NOT EXISTS recordings_customer_idx ON recordings (customer_id, started_at DESC);
CREATE INDEX IF NOT EXISTS recordings_queue_idx ON recordings (queue, started_at DESC);
CREATE INDEX IF NOT EXISTS recordings_status_idx ON recordings (status, started_at DESC);
CREATE INDEX IF NOT EXISTS recordings_acw_open_idx ON recordings (ended_at) WHERE status = 'acw';
CREATE INDEX IF NOT EXISTS recordings_missing_idx ON recordings (started_at DESC) WHERE missing_count > 0;
CREATE INDEX IF NOT EXISTS recordings_tags_idx ON recordings USING GIN (tags jsonb_path_ops);

CREATE TABLE IF NOT EXISTS audit_trail (
    notification_id bigint PRIMARY KEY,
    recording_id uuid NOT NULL,
    interaction_id text NOT NULL,
    customer_id text NOT NULL,
    actor text NOT NULL,
    role text NOT NULL,
    action text NOT NULL,
    reason_code text NOT NULL,
    detail jsonb NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS audit_trail_actor_idx ON audit_trail (actor, recorded_at);
CREATE INDEX IF NOT EXISTS audit_trail_recording_idx ON audit_trail (recording_id, notification_id);
CREATE INDEX IF NOT EXISTS audit_trail_action_idx ON audit_trail (action, recorded_at);
CREATE INDEX IF NOT EXISTS audit_trail_recorded_idx ON audit_trail (recorded_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON tracking, recordings, audit_trail TO callvault_service;
