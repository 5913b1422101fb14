-- depends: 0010.sealed-personal-in-views
-- The Merkle tree's interior, kept as the log grows: the hash of every complete,
-- aligned subtree of kept levels (level L, index i covers leaves [i * 2^L, (i + 1) * 2^L);
-- domain/transparency/tree_nodes.py says which levels). Written by the log_leaves view
-- in the same transaction as its leaves, so checkpoints and proofs read O(log n) hashes
-- instead of every leaf. Part of that view: the leaves are emptied and refolded with it.

CREATE TABLE IF NOT EXISTS merkle_nodes (
    level smallint NOT NULL,
    node_index bigint NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (level, node_index)
);

DELETE FROM log_leaves;
DELETE FROM tracking WHERE application_name = 'log_leaves';

GRANT SELECT, INSERT, DELETE ON merkle_nodes TO callvault_service;
