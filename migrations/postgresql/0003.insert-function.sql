-- depends: 0001.stored-events
-- The single statement the service uses to append events (eventsourcing's
-- "db functions" mode): one round trip per command instead of five.
-- Commit order must equal notification order, so that followers never pass a
-- gap that fills in later; an advisory lock held to commit serializes appends
-- without the table lock that would need UPDATE/DELETE rights.

CREATE OR REPLACE FUNCTION es_insert_events_uuid(events stored_event_uuid[])
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL lock_timeout = '10s';
    PERFORM pg_advisory_xact_lock(hashtext('callvault.stored_events'));
    NOTIFY stored_events;
    RETURN QUERY
        INSERT INTO stored_events AS t (originator_id, originator_version, topic, state)
        SELECT e.originator_id, e.originator_version, e.topic, e.state FROM unnest(events) AS e
        RETURNING t.notification_id;
END
$$;

REVOKE ALL ON FUNCTION es_insert_events_uuid(stored_event_uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION es_insert_events_uuid(stored_event_uuid[]) TO callvault_service;
