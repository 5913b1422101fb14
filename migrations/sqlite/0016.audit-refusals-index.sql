-- depends: 0015.scheduled-runs
-- "Every refused access" is the security review's first question of the audit trail, and
-- refusals are rare: without an index of their own a page of them read the whole trail.
-- A partial index holds only the refused rows, in the trail's page order, so it costs
-- the allowed ones nothing to write.
CREATE INDEX IF NOT EXISTS audit_trail_refused_idx ON audit_trail (notification_id, item) WHERE outcome = 'refused';
