-- Payments go to PostgreSQL in batches too: every payment that arrived while the previous batch
-- ran is decided by one call, in one transaction (one commit, one round trip), each by
-- concertd_pay in array order with its own clock.
--
-- Every seat of the batch is locked first, in (concert, number) order as hold batches lock
-- theirs: taken one payment at a time, a batch holding the seat of its first payment and waiting
-- for the seat of its second could deadlock with a hold batch that locked them the other way.
-- (A payment's idempotency key is claimed after the seats here, before them when alone: two
-- requests with one key on two instances at once may deadlock; PostgreSQL detects it and
-- concertd reruns the batch.)
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
  FOR i IN 1 .. coalesce(cardinality(p_reservation_ids), 0) LOOP
    RETURN QUERY SELECT * FROM concertd_pay(p_reservation_ids[i], p_users[i], p_payment_ids[i], p_token_ids[i],
                                            p_now[i], p_keys[i], p_endpoints[i], p_fingerprints[i]);
  END LOOP;
END
$$;
