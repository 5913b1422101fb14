-- depends: 0011.merkle-nodes
-- A rebuild empties a view's tables by TRUNCATE (adapters/view_store.py, reset): DELETE of
-- a few hundred thousand rows took about a second per table, and left every index full of
-- dead entries that the rebuild's inserts then had to pass until a vacuum. The service role
-- may truncate the views only; the log stays append-only (its triggers, and no grant).
GRANT TRUNCATE ON recordings, audit_trail, users, teams, responsibilities, log_leaves, merkle_nodes
    TO callvault_service;
