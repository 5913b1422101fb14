-- depends: 0009.log-tamper-alarms
-- Search results show the customer id and tags without replaying each recording:
-- the view keeps them sealed exactly as the events carry them (opened only for the
-- page returned; unreadable once a purge or an erasure destroys the keys, and a
-- rebuild copies the same sealed texts). Indexes now fit every scoped query with its
-- keyset order (started_at, recording_id), so deep pages seek instead of filtering.
-- Views are rebuilt from the log, so the table is emptied and refolded.

DELETE FROM recordings;
DELETE FROM tracking WHERE application_name = 'recordings';
ALTER TABLE recordings ADD COLUMN customer_sealed text NOT NULL DEFAULT '';
ALTER TABLE recordings ADD COLUMN tags_sealed jsonb NOT NULL DEFAULT '{}';

DROP INDEX IF EXISTS recordings_agent_idx;
DROP INDEX IF EXISTS recordings_customer_idx;
DROP INDEX IF EXISTS recordings_queue_idx;
DROP INDEX IF EXISTS recordings_status_idx;
DROP INDEX IF EXISTS recordings_missing_idx;
CREATE INDEX recordings_agent_idx ON recordings (agent_id, started_at DESC, recording_id DESC);
CREATE INDEX recordings_customer_idx ON recordings (customer_ref, started_at DESC, recording_id DESC);
CREATE INDEX recordings_queue_idx ON recordings (queue, started_at DESC, recording_id DESC);
CREATE INDEX recordings_status_idx ON recordings (status, started_at DESC, recording_id DESC);
CREATE INDEX recordings_missing_idx ON recordings (started_at DESC, recording_id DESC) WHERE missing_count > 0;
CREATE INDEX recordings_held_idx ON recordings (started_at DESC, recording_id DESC) WHERE legal_hold;
