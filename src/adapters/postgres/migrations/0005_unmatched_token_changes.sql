-- Token rows when several instances share one line.
--
-- A tick on one instance can admit a token whose insert, on the instance that issued it, has not
-- committed yet: the change then matches no row. concertd_write_tokens (0004) let it pass
-- unnoticed, and the stored state stayed behind the line's. concertd_store_tokens returns the
-- positions (1-based, in p_ids) of the changes whose token is not stored, so that the instance
-- tries them again once the insert is in. concertd_write_tokens stays for instances not yet
-- upgraded.
--
-- SPENT and DROPPED are final: a change that arrives after a payment spent the token (a retried
-- ACTIVE, or the tick's own expiry) leaves it spent. And a payment spends its token whether the
-- store still says WAITING or already ACTIVE: the line admitted it (the payment checked), and the
-- ACTIVE change may still be on its way.
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
  -- Rows in id order first, as payment batches lock them. (A row whose insert commits between
  -- this and its UPDATE is locked out of order; a deadlock that may cause is detected by
  -- PostgreSQL, and the tick writes the changes again.)
  PERFORM 1 FROM tokens WHERE id = ANY (p_ids) ORDER BY id FOR UPDATE;
  FOR i IN 1 .. coalesce(cardinality(p_ids), 0) LOOP
    IF p_ids[i] = ANY (v_missing) THEN
      RETURN NEXT i;
      CONTINUE;
    END IF;
    UPDATE tokens SET state = p_states[i], active_until = coalesce(p_active_until[i], active_until),
                      spent_at = coalesce(p_spent_at[i], spent_at)
    WHERE id = p_ids[i] AND state NOT IN ('SPENT', 'DROPPED');
    IF NOT FOUND AND NOT EXISTS (SELECT 1 FROM tokens WHERE id = p_ids[i]) THEN
      v_missing := v_missing || p_ids[i];
      RETURN NEXT i;
    END IF;
  END LOOP;
END
$$;

-- concertd_pay of 0001, its token update the only line changed (CREATE OR REPLACE takes the whole
-- body): the token is spent from WAITING too.
CREATE OR REPLACE FUNCTION concertd_pay(p_reservation_id TEXT, p_user_id TEXT, p_payment_id TEXT, p_token_id TEXT, p_now BIGINT,
                             p_key TEXT, p_endpoint TEXT, p_fingerprint TEXT)
RETURNS TABLE (out_kind TEXT, out_concert BIGINT, out_seat INTEGER, out_amount BIGINT, out_balance_after BIGINT,
               out_current BIGINT, out_required BIGINT, rel_id TEXT, rel_user TEXT, rel_concert BIGINT,
               rel_seat INTEGER, rel_price BIGINT, rel_expires BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
  v_res reservations;
  v_stale reservations;
  v_found BOOLEAN;
  v_current BIGINT;
BEGIN
  IF NOT concertd_claim_key(p_user_id, p_key, p_endpoint, p_fingerprint, p_payment_id, p_now) THEN
    out_kind := 'DUPLICATE_KEY';
    RETURN NEXT;
    RETURN;
  END IF;
  SELECT * INTO v_res FROM reservations WHERE id = p_reservation_id;
  v_found := FOUND;
  IF v_found THEN
    PERFORM 1 FROM seats WHERE concert_id = v_res.concert_id AND number = v_res.seat_number FOR UPDATE;
    SELECT * INTO v_res FROM reservations WHERE id = p_reservation_id FOR UPDATE;
    IF v_res.status = 'TEMPORARILY_ASSIGNED' AND v_res.expires_at <= p_now THEN
      SELECT * INTO v_stale FROM concertd_release_hold(p_reservation_id, p_now);
      IF v_stale.id IS NOT NULL THEN
        rel_id := v_stale.id;
        rel_user := v_stale.user_id;
        rel_concert := v_stale.concert_id;
        rel_seat := v_stale.seat_number;
        rel_price := v_stale.price;
        rel_expires := v_stale.expires_at;
      END IF;
      v_found := FALSE;
    END IF;
  END IF;
  IF NOT v_found OR v_res.user_id <> p_user_id OR v_res.status <> 'TEMPORARILY_ASSIGNED' THEN
    PERFORM concertd_unclaim_key(p_user_id, p_key, p_payment_id);
    out_kind := 'INVALID_RESERVATION';
    RETURN NEXT;
    RETURN;
  END IF;
  SELECT balance INTO v_current FROM balances WHERE user_id = p_user_id FOR UPDATE;
  v_current := coalesce(v_current, 0);
  IF v_current < v_res.price THEN
    PERFORM concertd_unclaim_key(p_user_id, p_key, p_payment_id);
    out_kind := 'INSUFFICIENT_BALANCE';
    out_current := v_current;
    out_required := v_res.price;
    RETURN NEXT;
    RETURN;
  END IF;
  -- The debit cannot take a balance below zero, whatever was checked before.
  UPDATE balances SET balance = balance - v_res.price, updated_at = p_now
  WHERE user_id = p_user_id AND balance >= v_res.price
  RETURNING balance INTO out_balance_after;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'payment: debit refused after the balance check';
  END IF;
  UPDATE seats SET status = 'RESERVED', held_until = NULL
  WHERE concert_id = v_res.concert_id AND number = v_res.seat_number AND reservation_id = v_res.id AND status = 'HELD';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'payment: seat is not held by this reservation';
  END IF;
  UPDATE reservations SET status = 'CONFIRMED', updated_at = p_now WHERE id = v_res.id AND status = 'TEMPORARILY_ASSIGNED';
  INSERT INTO reservation_history (reservation_id, action, reason, created_at)
  VALUES (v_res.id, 'CONFIRM', p_payment_id, p_now);
  INSERT INTO payments (id, reservation_id, user_id, concert_id, seat_number, amount, balance_after, created_at)
  VALUES (p_payment_id, v_res.id, p_user_id, v_res.concert_id, v_res.seat_number, v_res.price, out_balance_after, p_now);
  INSERT INTO balance_history (id, user_id, type, amount, balance_after, created_at)
  VALUES (p_payment_id, p_user_id, 'PAYMENT', v_res.price, out_balance_after, p_now);
  UPDATE tokens SET state = 'SPENT', spent_at = p_now WHERE id = p_token_id AND state IN ('WAITING', 'ACTIVE');
  out_kind := 'PAID';
  out_concert := v_res.concert_id;
  out_seat := v_res.seat_number;
  out_amount := v_res.price;
  RETURN NEXT;
END
$$;
