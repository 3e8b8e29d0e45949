-- The waiting room's pre-queue: a token issued before the opening is PRE_QUEUE until the opening
-- draws its place (then WAITING with the seq of that place). SQLite cannot change a CHECK in
-- place, so the table is rebuilt (within the migration's transaction). The CHECK is a chain of
-- ORs as in 0001: an IN list there makes SQLite build an ephemeral table on every insert (token
-- issue measured 14% slower).
CREATE TABLE tokens_v2 (
  id            TEXT    PRIMARY KEY,
  user_id       TEXT    NOT NULL,
  seq           INTEGER NOT NULL,
  state         TEXT    NOT NULL CHECK (state = 'WAITING' OR state = 'ACTIVE' OR state = 'SPENT' OR state = 'DROPPED'
                                        OR state = 'PRE_QUEUE'),
  issued_at     INTEGER NOT NULL,
  active_until  INTEGER,
  spent_at      INTEGER
) WITHOUT ROWID;
INSERT INTO tokens_v2 (id, user_id, seq, state, issued_at, active_until, spent_at)
  SELECT id, user_id, seq, state, issued_at, active_until, spent_at FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_v2 RENAME TO tokens;
CREATE INDEX tokens_by_state ON tokens (state, seq);

-- An opening's record, written when it is claimed: the draw's inputs (seed, block of seqs, the
-- closed pre-queue's ids, newline-separated). Every place follows from it, so the opening writes
-- this one row before anyone is shown a place, and folds the places into token rows afterwards.
CREATE TABLE openings (
  opens_at    INTEGER PRIMARY KEY,
  seed        TEXT    NOT NULL,
  first_seq   INTEGER NOT NULL,
  block_size  INTEGER NOT NULL,
  token_ids   TEXT    NOT NULL
);
