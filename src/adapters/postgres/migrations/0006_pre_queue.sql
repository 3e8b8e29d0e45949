-- The waiting room's pre-queue: a token issued before the opening is PRE_QUEUE until the opening
-- draws its place (then WAITING with the seq of that place).
ALTER TABLE tokens DROP CONSTRAINT tokens_state_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_state_check
  CHECK (state IN ('WAITING', 'ACTIVE', 'SPENT', 'DROPPED', 'PRE_QUEUE'));

-- An opening's record, written when it is claimed: the draw's inputs (seed, block of seqs, the
-- closed pre-queue's ids, newline-separated). Every place follows from it, so the opening writes
-- this one row before anyone is shown a place, and folds the places into token rows afterwards.
CREATE TABLE openings (
  opens_at    BIGINT  PRIMARY KEY,
  seed        TEXT    NOT NULL,
  first_seq   BIGINT  NOT NULL,
  block_size  BIGINT  NOT NULL,
  token_ids   TEXT    NOT NULL
);

-- Folds drawn places into token rows: each PRE_QUEUE token becomes WAITING at its seq (a token
-- that moved on, or was placed before, is left as it is). Returns the positions (1-based, in
-- p_ids) of tokens not stored yet, as concertd_store_tokens does, so that the caller tries them
-- again. Rows are locked in id order, as the token writes lock them.
CREATE FUNCTION concertd_place_tokens(p_ids TEXT[], p_seqs BIGINT[])
RETURNS SETOF INTEGER
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM tokens t JOIN unnest(p_ids) AS u(id) ON t.id = u.id ORDER BY t.id FOR UPDATE OF t;
  UPDATE tokens t SET state = 'WAITING', seq = u.seq
  FROM unnest(p_ids, p_seqs) AS u(id, seq)
  WHERE t.id = u.id AND t.state = 'PRE_QUEUE';
  RETURN QUERY
    SELECT u.ord::integer FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord)
    WHERE NOT EXISTS (SELECT 1 FROM tokens t WHERE t.id = u.id);
END
$$;

-- The ids are random text: compressing 4 MB of them costs the opening tens of ms for little.
ALTER TABLE openings ALTER COLUMN token_ids SET STORAGE EXTERNAL;
