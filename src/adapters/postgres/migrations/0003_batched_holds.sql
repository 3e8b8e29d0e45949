-- Holds go to PostgreSQL in batches: every hold that arrived while the previous batches ran is
-- decided by one call, in one transaction, with one statement per step for the whole batch
-- (group commit). One hold per call spent most of PostgreSQL's time on per-statement executor
-- start-up, PL/pgSQL and the commit, not on the rows.
--
-- The holds of a batch are decided in array order, at one instant (p_now, the latest request's
-- clock): a later hold of the batch sees the earlier ones (the same seat is then taken, the same
-- user has one hold more). Locks: every user's hold lock in hash order, then every seat row in
-- (concert, number) order, then the reservation rows of stale holds; the same order as the single
-- operations, so batches cannot deadlock with each other or with them.
CREATE FUNCTION concertd_hold_seats(p_ids TEXT[], p_users TEXT[], p_concerts BIGINT[], p_seats INTEGER[],
                                    p_expires BIGINT[], p_max_holds INTEGER[], p_now BIGINT)
RETURNS TABLE (out_kind TEXT, out_price BIGINT, out_own_reservation TEXT, rel_id TEXT, rel_user TEXT,
               rel_concert BIGINT, rel_seat INTEGER, rel_price BIGINT, rel_expires BIGINT)
LANGUAGE plpgsql
-- Planned once per connection: custom plans for every call's arrays cost more than the holds
-- (pgbench, batches of 8: 13,100 holds/s generic, 9,700 custom). Every statement here is a lookup
-- by key, and a plan made while a table was still empty (the first hold of an on-sale) must not
-- become a scan of that table for the connection's life: sequential scans are ruled out.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
  n CONSTANT INTEGER := coalesce(cardinality(p_ids), 0);
  -- Per hold of the batch.
  v_seat_count INTEGER[];
  v_kind TEXT[] := array_fill(NULL::TEXT, ARRAY[n]);
  v_price BIGINT[] := array_fill(NULL::BIGINT, ARRAY[n]);
  v_own TEXT[] := array_fill(NULL::TEXT, ARRAY[n]);
  v_released reservations[] := array_fill(NULL::reservations, ARRAY[n]);
  v_won INTEGER[] := '{}';
  -- Per seat of the batch, found by v_key (concert * 10000 + number; a concert has <= 5000 seats).
  v_key BIGINT[];
  v_status TEXT[];
  v_holder TEXT[];
  v_holder_user TEXT[];
  v_held_until BIGINT[];
  v_seat_price BIGINT[];
  -- Per user of the batch: live holds, counted no further than the largest limit.
  v_user TEXT[];
  v_user_holds INTEGER[];
  v_stale reservations;
  v_rows INTEGER;
  k INTEGER;
  u INTEGER;
BEGIN
  SELECT array_agg(c.seat_count ORDER BY t.i) INTO v_seat_count
  FROM unnest(p_concerts) WITH ORDINALITY AS t (id, i) LEFT JOIN concerts c ON c.id = t.id;

  -- One user's holds are counted and taken one at a time, across every instance: without it two
  -- concurrent holds could both pass the limit.
  PERFORM pg_advisory_xact_lock(l.h)
  FROM (SELECT DISTINCT hashtextextended('concertd hold ' || x.u, 0) AS h FROM unnest(p_users) AS x (u) ORDER BY 1) AS l;

  -- The holder's user through a subquery per seat, not a join: the planner cannot tell how few
  -- seats come out of the arrays and chose to hash the whole reservations table.
  SELECT array_agg(s.concert_id * 10000 + s.number), array_agg(s.status), array_agg(s.reservation_id),
         array_agg((SELECT r.user_id FROM reservations r WHERE r.id = s.reservation_id AND s.status = 'HELD')),
         array_agg(s.held_until), array_agg(s.price)
  INTO v_key, v_status, v_holder, v_holder_user, v_held_until, v_seat_price
  FROM (SELECT * FROM seats
        WHERE (concert_id, number) IN (SELECT * FROM unnest(p_concerts, p_seats))
        ORDER BY concert_id, number
        FOR UPDATE) AS s;

  -- `expires_at - p_now > 0`, not `expires_at > p_now`: only the index by user can then serve
  -- the count. Planned while there were no holds yet, the plain form picked the index by expiry,
  -- and that plan (kept for the connection's life) read every live hold of every user.
  SELECT array_agg(d.u),
         array_agg((SELECT count(*) FROM (
                      SELECT 1 FROM reservations
                      WHERE user_id = d.u AND status = 'TEMPORARILY_ASSIGNED' AND expires_at - p_now > 0
                      LIMIT (SELECT max(m) FROM unnest(p_max_holds) AS m)) AS live))
  INTO v_user, v_user_holds
  FROM (SELECT DISTINCT x.u FROM unnest(p_users) AS x (u)) AS d;

  FOR i IN 1 .. n LOOP
    IF v_seat_count[i] IS NULL THEN
      v_kind[i] := 'CONCERT_NOT_FOUND';
      CONTINUE;
    END IF;
    IF p_seats[i] < 1 OR p_seats[i] > v_seat_count[i] THEN
      v_kind[i] := 'SEAT_NOT_FOUND';
      CONTINUE;
    END IF;
    k := array_position(v_key, p_concerts[i] * 10000 + p_seats[i]);
    IF v_status[k] = 'RESERVED' OR (v_status[k] = 'HELD' AND v_held_until[k] > p_now) THEN
      v_kind[i] := 'ALREADY_ASSIGNED';
      IF v_status[k] = 'HELD' AND v_holder_user[k] = p_users[i] THEN
        v_own[i] := v_holder[k];
      END IF;
      CONTINUE;
    END IF;
    u := array_position(v_user, p_users[i]);
    IF v_user_holds[u] >= p_max_holds[i] THEN
      v_kind[i] := 'HOLD_LIMIT_EXCEEDED';
      CONTINUE;
    END IF;
    IF v_status[k] = 'HELD' THEN
      -- Its hold ran out but was not released yet: this write releases it first.
      SELECT * INTO v_stale FROM concertd_release_hold(v_holder[k], p_now);
      IF v_stale.id IS NOT NULL THEN
        v_released[i] := v_stale;
      END IF;
    END IF;
    v_status[k] := 'HELD';
    v_holder[k] := p_ids[i];
    v_holder_user[k] := p_users[i];
    v_held_until[k] := p_expires[i];
    v_user_holds[u] := v_user_holds[u] + 1;
    v_kind[i] := 'HELD';
    v_price[i] := v_seat_price[k];
    v_won := v_won || i;
  END LOOP;

  UPDATE seats s SET status = 'HELD', reservation_id = p_ids[w.i], held_until = p_expires[w.i]
  FROM unnest(v_won) AS w (i)
  WHERE s.concert_id = p_concerts[w.i] AND s.number = p_seats[w.i]
    AND (s.status = 'AVAILABLE' OR (s.status = 'HELD' AND s.held_until <= p_now));
  GET DIAGNOSTICS v_rows = ROW_COUNT;
  IF v_rows <> cardinality(v_won) THEN
    RAISE EXCEPTION 'hold: seat changed under the row lock';
  END IF;
  INSERT INTO reservations (id, user_id, concert_id, seat_number, price, status, expires_at, created_at, updated_at)
  SELECT p_ids[w.i], p_users[w.i], p_concerts[w.i], p_seats[w.i], v_price[w.i], 'TEMPORARILY_ASSIGNED',
         p_expires[w.i], p_now, p_now
  FROM unnest(v_won) AS w (i);
  INSERT INTO reservation_history (reservation_id, action, reason, created_at)
  SELECT p_ids[w.i], 'HOLD', NULL, p_now FROM unnest(v_won) AS w (i);

  RETURN QUERY
  SELECT v_kind[i], v_price[i], v_own[i], (v_released[i]).id, (v_released[i]).user_id, (v_released[i]).concert_id,
         (v_released[i]).seat_number, (v_released[i]).price, (v_released[i]).expires_at
  FROM generate_series(1, n) AS i
  ORDER BY i;
END
$$;

-- concertd_hold_seat stays for instances of the previous release during a rolling upgrade; a
-- later migration drops it.
