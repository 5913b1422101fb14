-- depends: 0017.ensure-keys-function
-- A call's start stored in one statement and one commit: the new recordings' keys (and their
-- customers', if new) with the events they sealed. Making the keys first, in a commit of their
-- own, cost a round trip and a WAL flush on every call start (about half of it, in process).
-- The keys are wrapped by the caller; the master key never reaches the database.
--
-- The caller sealed the events with keys it made itself, and with the customer keys it read
-- just before; so the statement checks, after inserting, that every recording's stored keys
-- are exactly the ones it sealed with. They differ only if something happened in between: a
-- concurrent start made the same new customer's key first, or an erasure destroyed a customer
-- key that was read. Then nothing is stored (SQLSTATE CVK01) and the caller seals again with
-- the keys as they are. A customer key that was read is never inserted again: that would bring
-- back a key an erasure had just destroyed.
--
-- Keys are inserted (by callvault_ensure_keys, in key order) before the append takes its lock,
-- so that concurrent starts take the rows' locks in one order and never while holding it.

CREATE OR REPLACE FUNCTION callvault_append_with_keys(
    originator_ids uuid[], originator_versions bigint[], topics text[], states bytea[],
    new_customer_refs text[], new_customer_keys bytea[],
    new_recording_ids uuid[], new_recording_refs text[], new_recording_keys bytea[],
    sealing_customer_keys bytea[], made_at timestamptz
)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
    -- callvault_ensure_keys inserts what is new and reads back what is stored, by then.
    IF (SELECT count(*)
        FROM callvault_ensure_keys(
            new_customer_refs, new_customer_keys, new_recording_ids, new_recording_refs, new_recording_keys, made_at
        ) AS k
        JOIN unnest(new_recording_ids, new_recording_refs, new_recording_keys, sealing_customer_keys)
            AS s(id, ref, wrapped, customer_wrapped)
            ON k.recording_id = s.id AND k.customer_ref = s.ref
            AND k.recording_wrapped = s.wrapped AND k.customer_wrapped = s.customer_wrapped
    ) <> cardinality(new_recording_ids) THEN
        RAISE EXCEPTION 'the keys these events were sealed with were made or destroyed meanwhile'
            USING ERRCODE = 'CVK01';
    END IF;
    RETURN QUERY SELECT n FROM callvault_append(originator_ids, originator_versions, topics, states) AS n;
END
$$;

REVOKE ALL ON FUNCTION callvault_append_with_keys(
    uuid[], bigint[], text[], bytea[], text[], bytea[], uuid[], text[], bytea[], bytea[], timestamptz
) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION callvault_append_with_keys(
    uuid[], bigint[], text[], bytea[], text[], bytea[], uuid[], text[], bytea[], bytea[], timestamptz
) TO callvault_service;
