-- A hold counts the user's live holds no further than the limit: the answer only has to tell
-- whether the limit is reached, and the unbounded count made every hold cost time proportional
-- to the user's holds. Same function otherwise.
CREATE OR REPLACE FUNCTION concertd_hold_seat(p_reservation_id TEXT, p_user_id TEXT, p_concert_id BIGINT, p_seat INTEGER,
                                   p_now BIGINT, p_expires_at BIGINT, p_max_holds INTEGER)
RETURNS TABLE (out_kind TEXT, out_price BIGINT, out_own_reservation TEXT, rel_id TEXT, rel_user TEXT,
               rel_concert BIGINT, rel_seat INTEGER, rel_price BIGINT, rel_expires BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
  v_seat_count INTEGER;
  v_seat seats;
  v_holds BIGINT;
  v_stale reservations;
BEGIN
  SELECT seat_count INTO v_seat_count FROM concerts WHERE id = p_concert_id;
  IF NOT FOUND THEN
    out_kind := 'CONCERT_NOT_FOUND';
    RETURN NEXT;
    RETURN;
  END IF;
  IF p_seat < 1 OR p_seat > v_seat_count THEN
    out_kind := 'SEAT_NOT_FOUND';
    RETURN NEXT;
    RETURN;
  END IF;
  -- One user's holds are counted and taken one at a time, across every instance: without it two
  -- concurrent holds could both pass the limit.
  PERFORM pg_advisory_xact_lock(hashtextextended('concertd hold ' || p_user_id, 0));
  SELECT * INTO v_seat FROM seats WHERE concert_id = p_concert_id AND number = p_seat FOR UPDATE;
  IF v_seat.status = 'RESERVED' OR (v_seat.status = 'HELD' AND v_seat.held_until > p_now) THEN
    out_kind := 'ALREADY_ASSIGNED';
    IF v_seat.status = 'HELD' THEN
      SELECT id INTO out_own_reservation FROM reservations WHERE id = v_seat.reservation_id AND user_id = p_user_id;
    END IF;
    RETURN NEXT;
    RETURN;
  END IF;
  SELECT count(*) INTO v_holds FROM (
    SELECT 1 FROM reservations
    WHERE user_id = p_user_id AND status = 'TEMPORARILY_ASSIGNED' AND expires_at > p_now
    LIMIT p_max_holds) AS live;
  IF v_holds >= p_max_holds THEN
    out_kind := 'HOLD_LIMIT_EXCEEDED';
    RETURN NEXT;
    RETURN;
  END IF;
  IF v_seat.status = 'HELD' THEN
    -- Its hold ran out but was not released yet: this write releases it first.
    SELECT * INTO v_stale FROM concertd_release_hold(v_seat.reservation_id, p_now);
    IF v_stale.id IS NOT NULL THEN
      rel_id := v_stale.id;
      rel_user := v_stale.user_id;
      rel_concert := v_stale.concert_id;
      rel_seat := v_stale.seat_number;
      rel_price := v_stale.price;
      rel_expires := v_stale.expires_at;
    END IF;
  END IF;
  UPDATE seats SET status = 'HELD', reservation_id = p_reservation_id, held_until = p_expires_at
  WHERE concert_id = p_concert_id AND number = p_seat
    AND (status = 'AVAILABLE' OR (status = 'HELD' AND held_until <= p_now));
  IF NOT FOUND THEN
    RAISE EXCEPTION 'hold: seat changed under the row lock';
  END IF;
  INSERT INTO reservations (id, user_id, concert_id, seat_number, price, status, expires_at, created_at, updated_at)
  VALUES (p_reservation_id, p_user_id, p_concert_id, p_seat, v_seat.price, 'TEMPORARILY_ASSIGNED', p_expires_at,
          p_now, p_now);
  INSERT INTO reservation_history (reservation_id, action, reason, created_at)
  VALUES (p_reservation_id, 'HOLD', NULL, p_now);
  out_kind := 'HELD';
  out_price := v_seat.price;
  RETURN NEXT;
END
$$;
