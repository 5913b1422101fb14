-- depends: 0015.scheduled-runs
-- "Every refused access" is the security review's first question of the audit trail, and
-- refusals are rare: without an index of their own a page of them read the whole trail
-- (48 ms at 470,000 rows, and the trail grows by every access). A partial index holds
-- only the refused rows, in the trail's page order, so it costs the allowed ones nothing
-- to write. Built in place: the trail is written by the views only, and they wait for it.
CREATE INDEX IF NOT EXISTS audit_trail_refused_idx ON audit_trail (notification_id, item) WHERE outcome = 'refused';
