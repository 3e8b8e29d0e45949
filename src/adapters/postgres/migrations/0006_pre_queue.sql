-- The waiting room's pre-queue: a token issued before the opening is PRE_QUEUE until the opening
-- draws its place (then WAITING with the seq of that place).
ALTER TABLE tokens DROP CONSTRAINT tokens_state_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_state_check
  CHECK (state IN ('WAITING', 'ACTIVE', 'SPENT', 'DROPPED', 'PRE_QUEUE'));

-- The opening in one transaction: each placed PRE_QUEUE token becomes WAITING at its seq (a token
-- that moved on, or was placed by an earlier run of the same opening, is left as it is), and the
-- opening's outcome goes to settings. Returns the positions (1-based, in p_ids) of tokens not
-- stored yet, as concertd_store_tokens does, so that the caller tries them again.
CREATE FUNCTION concertd_open_line(p_ids TEXT[], p_seqs BIGINT[], p_names TEXT[], p_values TEXT[])
RETURNS SETOF INTEGER
LANGUAGE plpgsql AS $$
BEGIN
  -- Rows in id order first, as the token writes lock them, so that neither waits on the other
  -- in a cycle.
  PERFORM 1 FROM tokens t JOIN unnest(p_ids) AS u(id) ON t.id = u.id ORDER BY t.id FOR UPDATE OF t;
  UPDATE tokens t SET state = 'WAITING', seq = u.seq
  FROM unnest(p_ids, p_seqs) AS u(id, seq)
  WHERE t.id = u.id AND t.state = 'PRE_QUEUE';
  INSERT INTO settings (name, value) SELECT * FROM unnest(p_names, p_values)
  ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
  RETURN QUERY
    SELECT u.ord::integer FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord)
    WHERE NOT EXISTS (SELECT 1 FROM tokens t WHERE t.id = u.id);
END
$$;
