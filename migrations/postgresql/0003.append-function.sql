-- depends: 0001.stored-events
-- The one statement the service uses to append events: one round trip per
-- transaction, plain arrays (cheap to send in binary) instead of composites.
-- Commit order must equal notification order, so that followers never pass a
-- gap that fills in later; an advisory lock held to commit serializes appends
-- without the table lock that would need UPDATE/DELETE rights.

CREATE OR REPLACE FUNCTION callvault_append(
    originator_ids uuid[], originator_versions bigint[], topics text[], states bytea[]
)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL lock_timeout = '10s';
    PERFORM pg_advisory_xact_lock(hashtext('callvault.stored_events'));
    NOTIFY stored_events;
    RETURN QUERY
        INSERT INTO stored_events AS t (originator_id, originator_version, topic, state)
        SELECT * FROM unnest(originator_ids, originator_versions, topics, states)
        RETURNING t.notification_id;
END
$$;

REVOKE ALL ON FUNCTION callvault_append(uuid[], bigint[], text[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION callvault_append(uuid[], bigint[], text[], bytea[]) TO callvault_service;
