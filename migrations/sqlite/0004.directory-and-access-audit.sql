-- depends: 0002.views
-- Users and teams as folded from their events, for authentication and scoping;
-- the audit trail gains access records (one row per recording an access touched,
-- or one row without a recording) and outcomes. The audit trail is a view: it is
-- dropped here and rebuilt from the log by its follower.

CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    team_id TEXT,
    token_sha256 TEXT NOT NULL,
    active INTEGER NOT NULL,
    version INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS users_token_idx ON users (token_sha256);
CREATE INDEX IF NOT EXISTS users_team_idx ON users (team_id);

CREATE TABLE IF NOT EXISTS teams (
    team_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    parent_id TEXT,
    version INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS responsibilities (
    team_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    active INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
);

DROP TABLE IF EXISTS audit_trail;
CREATE TABLE audit_trail (
    notification_id INTEGER NOT NULL,
    item INTEGER NOT NULL,
    recording_id TEXT,
    interaction_id TEXT,
    customer_id TEXT,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason_code TEXT NOT NULL,
    subject TEXT,
    detail TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (notification_id, item)
);
CREATE INDEX IF NOT EXISTS audit_trail_actor_idx ON audit_trail (actor, recorded_at);
CREATE INDEX IF NOT EXISTS audit_trail_recording_idx ON audit_trail (recording_id, notification_id);
CREATE INDEX IF NOT EXISTS audit_trail_action_idx ON audit_trail (action, recorded_at);
CREATE INDEX IF NOT EXISTS audit_trail_recorded_idx ON audit_trail (recorded_at);
DELETE FROM tracking WHERE application_name = 'audit_trail';
