-- depends: 0016.audit-refusals-index
-- A new recording's keys (and its customer's, if new) made and read back in one statement:
-- one round trip and one commit instead of five (BEGIN, two inserts, the read-back, COMMIT),
-- which made up a third of starting a call (0.93 ms of 3.1). The keys are wrapped by the
-- caller; the master key never reaches the database.
-- Each statement of a volatile PL/pgSQL function sees what committed before it began, so
-- the read-back finds a customer's key that a concurrent start inserted first (its INSERT
-- here waited for that one and then did nothing), exactly as the separate statements did.
-- Rows are inserted in key order, so that concurrent starts take their locks in one order.
-- The commit waits for its WAL flush like any other (synchronous_commit stays on). An
-- asynchronous one would save ~0.13 ms, but a crash right after it could lose keys that this
-- process has already sealed events with; the append, retried after reconnecting, would
-- then store events that nothing can open.

CREATE OR REPLACE FUNCTION callvault_ensure_keys(
    new_customer_refs text[], new_customer_keys bytea[],
    new_recording_ids uuid[], new_recording_refs text[], new_recording_keys bytea[],
    made_at timestamptz
)
RETURNS TABLE (recording_id uuid, recording_wrapped bytea, customer_wrapped bytea, customer_ref text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    INSERT INTO customer_keys AS c (customer_ref, wrapped, created_at)
        SELECT n.ref, n.wrapped, made_at FROM unnest(new_customer_refs, new_customer_keys) AS n(ref, wrapped)
        ORDER BY n.ref
        ON CONFLICT (customer_ref) DO NOTHING;
    INSERT INTO recording_keys AS r (recording_id, customer_ref, wrapped, created_at)
        SELECT n.id, n.ref, n.wrapped, made_at
        FROM unnest(new_recording_ids, new_recording_refs, new_recording_keys) AS n(id, ref, wrapped)
        ORDER BY n.id
        ON CONFLICT (recording_id) DO NOTHING;
    RETURN QUERY
        SELECT r.recording_id, r.wrapped, c.wrapped, r.customer_ref
        FROM recording_keys r JOIN customer_keys c ON c.customer_ref = r.customer_ref
        WHERE r.recording_id = ANY(new_recording_ids);
END
$$;

REVOKE ALL ON FUNCTION callvault_ensure_keys(text[], bytea[], uuid[], text[], bytea[], timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION callvault_ensure_keys(text[], bytea[], uuid[], text[], bytea[], timestamptz) TO callvault_service;
