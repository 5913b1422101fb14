-- The event log. Same shape as eventsourcing's PostgreSQL recorder expects,
-- but owned by migrations so its protections exist before the first event.

CREATE TABLE IF NOT EXISTS stored_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
);

CREATE UNIQUE INDEX IF NOT EXISTS stored_events_notification_id_idx
    ON stored_events (notification_id ASC);

-- Append-only for everyone, owner included: nothing in the log is ever changed.
CREATE OR REPLACE FUNCTION callvault_refuse_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stored_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER stored_events_append_only
    BEFORE UPDATE OR DELETE ON stored_events
    FOR EACH ROW EXECUTE FUNCTION callvault_refuse_log_change();

CREATE TRIGGER stored_events_no_truncate
    BEFORE TRUNCATE ON stored_events
    FOR EACH STATEMENT EXECUTE FUNCTION callvault_refuse_log_change();

-- The role the service acts as: it may add to the log and read it, nothing else.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'callvault_service') THEN
        CREATE ROLE callvault_service NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO callvault_service;
REVOKE ALL ON stored_events FROM callvault_service;
GRANT SELECT, INSERT ON stored_events TO callvault_service;
GRANT USAGE ON SEQUENCE stored_events_notification_id_seq TO callvault_service;
