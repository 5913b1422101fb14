-- depends: 0011.merkle-nodes
-- The historical reports read pauses and how after-call work ended from the search view
-- (SQL aggregates, not a replay of every recording). Their values for recordings already
-- folded are in the log only, so the view is emptied and refolded from it.

ALTER TABLE recordings ADD COLUMN pause_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN pause_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN paused_since TEXT;
ALTER TABLE recordings ADD COLUMN acw_end_reason TEXT;
DELETE FROM recordings;
DELETE FROM tracking WHERE application_name = 'recordings';
