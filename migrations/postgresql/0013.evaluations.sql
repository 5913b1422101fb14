-- depends: 0012.views-emptied-by-truncate
-- The evaluations view (projections/evaluations_view.py): one row per evaluation of a call,
-- as its latest event left it (score, state, revision), for listing an agent's evaluations
-- and for the reports; and each evaluation form's latest version, for listing the forms.
-- Comments are personal: they stay sealed in the log, never in these tables.

CREATE TABLE IF NOT EXISTS evaluations (
    recording_id uuid NOT NULL,
    evaluation_id text NOT NULL,
    agent_id text NOT NULL,
    evaluator text NOT NULL,
    form_id text NOT NULL,
    form_version integer NOT NULL,
    revision integer NOT NULL,
    score_percent double precision NOT NULL,
    fatal_failed boolean NOT NULL,
    state text NOT NULL,
    submitted_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (recording_id, evaluation_id)
);
CREATE INDEX IF NOT EXISTS evaluations_agent_idx
    ON evaluations (agent_id, submitted_at DESC, recording_id DESC, evaluation_id DESC);
CREATE INDEX IF NOT EXISTS evaluations_submitted_idx
    ON evaluations (submitted_at DESC, recording_id DESC, evaluation_id DESC);

CREATE TABLE IF NOT EXISTS evaluation_forms (
    form_id text PRIMARY KEY,
    version integer NOT NULL,
    title text NOT NULL,
    questions integer NOT NULL,
    published_at timestamptz NOT NULL,
    published_by text NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON evaluations, evaluation_forms TO callvault_service;
