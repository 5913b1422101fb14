-- depends: 0012.views-emptied-by-truncate
-- The historical reports read pauses and how after-call work ended from the search view
-- (SQL aggregates, not a replay of every recording). Adding these columns is instant at any
-- size: nullable ones, and NOT NULL ones with a constant default (PostgreSQL 11+ keeps such
-- a default in the catalogue instead of rewriting the table). Their values for recordings
-- already folded are in the log only, so the view is emptied and refolded from it
-- (TRUNCATE: no dead rows left behind).

ALTER TABLE recordings ADD COLUMN pause_count integer NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN pause_ms bigint NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN paused_since timestamptz;
ALTER TABLE recordings ADD COLUMN acw_end_reason text;

TRUNCATE recordings;
DELETE FROM tracking WHERE application_name = 'recordings';
