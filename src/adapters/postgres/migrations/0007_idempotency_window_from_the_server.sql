-- The idempotency window has one home, kIdempotencyWindow in the server's source
-- (src/ports/store.hpp): every connection sets concertd.idempotency_window_ms from it
-- (sql::session_setup), and the key claim reads it here instead of the 86400000 that 0001 wrote.
-- A connection that did not set it is a server of an earlier build, still running during a
-- rolling upgrade: it keeps the 24 hours it was built with.
CREATE OR REPLACE FUNCTION concertd_claim_key(p_user_id TEXT, p_key TEXT, p_endpoint TEXT, p_fingerprint TEXT,
                                              p_result_ref TEXT, p_now BIGINT) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
  v_window BIGINT := COALESCE(NULLIF(current_setting('concertd.idempotency_window_ms', true), '')::BIGINT, 86400000);
BEGIN
  IF p_key IS NULL THEN
    RETURN TRUE;
  END IF;
  DELETE FROM idempotency_keys WHERE user_id = p_user_id AND key = p_key AND created_at <= p_now - v_window;
  INSERT INTO idempotency_keys (user_id, key, endpoint, fingerprint, result_ref, created_at)
  VALUES (p_user_id, p_key, p_endpoint, p_fingerprint, p_result_ref, p_now)
  ON CONFLICT (user_id, key) DO NOTHING;
  RETURN FOUND;
END
$$;
