-- depends: 0007.key-store
-- Personal data leaves the views: the customer and tag values are stored as keyed
-- blind indexes (equality search works, the plaintext is never written here), and
-- the search view learns each recording's policy version for the retention lists.
-- Views are rebuilt from the log, so both are emptied and refolded.

DELETE FROM recordings;
DELETE FROM audit_trail;
DELETE FROM tracking WHERE application_name IN ('recordings', 'audit_trail');
ALTER TABLE recordings RENAME COLUMN customer_id TO customer_ref;
ALTER TABLE recordings RENAME COLUMN tags TO tag_refs;
ALTER TABLE recordings ADD COLUMN policy_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_trail RENAME COLUMN customer_id TO customer_ref;
