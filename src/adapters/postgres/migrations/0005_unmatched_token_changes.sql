-- A tick on one instance can admit a token whose insert, on the instance that issued it, has not
-- committed yet: the change then matches no row. concertd_write_tokens (0004) let it pass
-- unnoticed, and the stored state stayed behind the line's. This one returns the positions
-- (1-based, in p_ids) of the changes that matched nothing, so that the instance tries them again
-- once the insert is in. concertd_write_tokens stays for instances not yet upgraded.
CREATE FUNCTION concertd_store_tokens(p_new_ids TEXT[], p_new_users TEXT[], p_new_seqs BIGINT[], p_new_states TEXT[],
                                      p_new_issued_at BIGINT[], p_new_active_until BIGINT[], p_new_spent_at BIGINT[],
                                      p_ids TEXT[], p_states TEXT[], p_active_until BIGINT[], p_spent_at BIGINT[])
RETURNS SETOF INTEGER
LANGUAGE plpgsql AS $$
DECLARE
  -- Once a token's change matched nothing, its later changes wait too: its insert may commit
  -- between two of these updates, and a later change must not be applied before an earlier one.
  v_missing TEXT[] := '{}';
BEGIN
  INSERT INTO tokens (id, user_id, seq, state, issued_at, active_until, spent_at)
  SELECT * FROM unnest(p_new_ids, p_new_users, p_new_seqs, p_new_states, p_new_issued_at, p_new_active_until,
                       p_new_spent_at);
  -- Rows in id order first, as payment batches lock them.
  PERFORM 1 FROM tokens WHERE id = ANY (p_ids) ORDER BY id FOR UPDATE;
  FOR i IN 1 .. coalesce(cardinality(p_ids), 0) LOOP
    IF p_ids[i] = ANY (v_missing) THEN
      RETURN NEXT i;
      CONTINUE;
    END IF;
    UPDATE tokens SET state = p_states[i], active_until = coalesce(p_active_until[i], active_until),
                      spent_at = coalesce(p_spent_at[i], spent_at)
    WHERE id = p_ids[i];
    IF NOT FOUND THEN
      v_missing := v_missing || p_ids[i];
      RETURN NEXT i;
    END IF;
  END LOOP;
END
$$;
