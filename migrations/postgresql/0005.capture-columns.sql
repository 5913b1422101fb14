-- depends: 0004.directory-and-access-audit
-- The search view learns what the capture client reported and which other media
-- arrived. Views are rebuilt from the log, so the table is emptied and refolded.

ALTER TABLE recordings ADD COLUMN expected_segments INTEGER;
ALTER TABLE recordings ADD COLUMN voice_recorded boolean NOT NULL DEFAULT FALSE;
ALTER TABLE recordings ADD COLUMN snapshots INTEGER NOT NULL DEFAULT 0;
DELETE FROM recordings;
DELETE FROM tracking WHERE application_name = 'recordings';
