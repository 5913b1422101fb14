-- depends: 0011.merkle-nodes
-- The evaluations view (projections/evaluations_view.py): one row per evaluation of a call,
-- as its latest event left it (score, state, revision), for listing an agent's evaluations
-- and for the reports; and each evaluation form's latest version, for listing the forms.
-- Comments are personal: they stay sealed in the log, never in these tables.

CREATE TABLE IF NOT EXISTS evaluations (
    recording_id TEXT NOT NULL,
    evaluation_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    evaluator TEXT NOT NULL,
    form_id TEXT NOT NULL,
    form_version INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    score_percent REAL NOT NULL,
    fatal_failed INTEGER NOT NULL,
    state TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (recording_id, evaluation_id)
);
CREATE INDEX IF NOT EXISTS evaluations_agent_idx
    ON evaluations (agent_id, submitted_at DESC, recording_id DESC, evaluation_id DESC);
CREATE INDEX IF NOT EXISTS evaluations_submitted_idx
    ON evaluations (submitted_at DESC, recording_id DESC, evaluation_id DESC);

CREATE TABLE IF NOT EXISTS evaluation_forms (
    form_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    questions INTEGER NOT NULL,
    published_at TEXT NOT NULL,
    published_by TEXT NOT NULL
);
