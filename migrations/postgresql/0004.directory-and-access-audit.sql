-- depends: 0002.views
-- Users and teams as folded from their events, for authentication and scoping;
-- the audit trail gains access records (one row per recording an access touched,
-- or one row without a recording) and outcomes. The audit trail is a view: it is
-- dropped here and rebuilt from the log by its follower.

CREATE TABLE IF NOT EXISTS users (
    user_id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE,
    role text NOT NULL,
    team_id uuid,
    token_sha256 text NOT NULL,
    active boolean NOT NULL,
    version integer NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS users_token_idx ON users (token_sha256);
CREATE INDEX IF NOT EXISTS users_team_idx ON users (team_id);

CREATE TABLE IF NOT EXISTS teams (
    team_id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE,
    parent_id uuid,
    version integer NOT NULL
);

CREATE TABLE IF NOT EXISTS responsibilities (
    team_id uuid NOT NULL,
    user_id uuid NOT NULL,
    active boolean NOT NULL,
    PRIMARY KEY (team_id, user_id)
);

DROP TABLE IF EXISTS audit_trail;
CREATE TABLE audit_trail (
    notification_id bigint NOT NULL,
    item integer NOT NULL,
    recording_id uuid,
    interaction_id text,
    customer_id text,
    actor text NOT NULL,
    role text NOT NULL,
    action text NOT NULL,
    outcome text NOT NULL,
    reason_code text NOT NULL,
    subject text,
    detail jsonb NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (notification_id, item)
);
CREATE INDEX IF NOT EXISTS audit_trail_actor_idx ON audit_trail (actor, recorded_at);
CREATE INDEX IF NOT EXISTS audit_trail_recording_idx ON audit_trail (recording_id, notification_id);
CREATE INDEX IF NOT EXISTS audit_trail_action_idx ON audit_trail (action, recorded_at);
CREATE INDEX IF NOT EXISTS audit_trail_recorded_idx ON audit_trail (recorded_at);
DELETE FROM tracking WHERE application_name = 'audit_trail';

GRANT SELECT, INSERT, UPDATE, DELETE ON users, teams, responsibilities, audit_trail TO callvault_service;
