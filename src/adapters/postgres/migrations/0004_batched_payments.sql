-- Payments go to PostgreSQL in batches too: every payment that arrived while the previous batch
-- ran is decided by one call, in one transaction (one commit, one round trip), each by
-- concertd_pay in array order with its own clock.
--
-- One transaction now holds the rows of several payments, so they are locked up front, each kind
-- in key order: every seat of the batch (in (concert, number) order, as hold batches lock theirs),
-- then every payer's balance row, then every token to spend. Two batches, or a batch and a hold
-- batch or a token update, then wait for each other in the same order and cannot deadlock. Lock
-- order of a payment batch: seats -> balances -> tokens -> (per payment) idempotency key ->
-- reservation. A key is claimed after the seats here and before them when a payment is alone:
-- two requests with one key on two instances at once may deadlock; PostgreSQL detects it and
-- concertd reruns the batch.
CREATE FUNCTION concertd_pay_batch(p_reservation_ids TEXT[], p_users TEXT[], p_payment_ids TEXT[], p_token_ids TEXT[],
                                   p_now BIGINT[], p_keys TEXT[], p_endpoints TEXT[], p_fingerprints TEXT[])
RETURNS TABLE (out_kind TEXT, out_concert BIGINT, out_seat INTEGER, out_amount BIGINT, out_balance_after BIGINT,
               out_current BIGINT, out_required BIGINT, rel_id TEXT, rel_user TEXT, rel_concert BIGINT,
               rel_seat INTEGER, rel_price BIGINT, rel_expires BIGINT)
LANGUAGE plpgsql
-- Every statement here and in concertd_pay is a lookup by key: a plan made while a table was
-- still empty must not become a scan of it for the connection's life.
SET enable_seqscan = off
AS $$
BEGIN
  PERFORM 1 FROM seats s
  WHERE (s.concert_id, s.number) IN (SELECT r.concert_id, r.seat_number FROM reservations r
                                     WHERE r.id = ANY (p_reservation_ids))
  ORDER BY s.concert_id, s.number
  FOR UPDATE OF s;
  PERFORM 1 FROM balances WHERE user_id = ANY (p_users) ORDER BY user_id FOR UPDATE;
  PERFORM 1 FROM tokens WHERE id = ANY (p_token_ids) ORDER BY id FOR UPDATE;
  FOR i IN 1 .. coalesce(cardinality(p_reservation_ids), 0) LOOP
    RETURN QUERY SELECT * FROM concertd_pay(p_reservation_ids[i], p_users[i], p_payment_ids[i], p_token_ids[i],
                                            p_now[i], p_keys[i], p_endpoints[i], p_fingerprints[i]);
  END LOOP;
END
$$;

-- Token state changes lock their rows in id order first, as payment batches do.
CREATE OR REPLACE FUNCTION concertd_update_tokens(p_ids TEXT[], p_states TEXT[], p_active_until BIGINT[],
                                                  p_spent_at BIGINT[])
RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM tokens WHERE id = ANY (p_ids) ORDER BY id FOR UPDATE;
  FOR i IN 1 .. coalesce(cardinality(p_ids), 0) LOOP
    UPDATE tokens SET state = p_states[i], active_until = coalesce(p_active_until[i], active_until),
                      spent_at = coalesce(p_spent_at[i], spent_at)
    WHERE id = p_ids[i];
  END LOOP;
END
$$;

-- New tokens and state changes of stored ones, in one call and in the order they were made: the
-- inserts of a batch first (a change always follows its token's insert), then the changes in
-- order. One ordered line of these per instance means a change never reaches the database
-- before the insert of its token.
CREATE FUNCTION concertd_write_tokens(p_new_ids TEXT[], p_new_users TEXT[], p_new_seqs BIGINT[], p_new_states TEXT[],
                                      p_new_issued_at BIGINT[], p_new_active_until BIGINT[], p_new_spent_at BIGINT[],
                                      p_ids TEXT[], p_states TEXT[], p_active_until BIGINT[], p_spent_at BIGINT[])
RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tokens (id, user_id, seq, state, issued_at, active_until, spent_at)
  SELECT * FROM unnest(p_new_ids, p_new_users, p_new_seqs, p_new_states, p_new_issued_at, p_new_active_until,
                       p_new_spent_at);
  PERFORM concertd_update_tokens(p_ids, p_states, p_active_until, p_spent_at);
END
$$;
