-- Times are milliseconds since the Unix epoch (UTC); dates are days since 1970-01-01.
-- CHECKs list their values with OR, not IN: SQLite builds a temporary b-tree for an IN list of
-- more than two constants on every row written, a quarter of a hold's CPU. (The same constraints
-- written with IN, as in files made before, mean the same.)
CREATE TABLE concerts (
  id          INTEGER PRIMARY KEY,
  title       TEXT    NOT NULL,
  venue       TEXT    NOT NULL,
  date_days   INTEGER NOT NULL,
  seat_count  INTEGER NOT NULL CHECK (seat_count BETWEEN 1 AND 5000),
  min_price   INTEGER NOT NULL,
  max_price   INTEGER NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE INDEX concerts_by_date ON concerts (date_days, id);

-- A seat is AVAILABLE, HELD (until held_until) or RESERVED; a HELD seat past held_until counts
-- as available everywhere and is released by the next write on it or by the release job.
CREATE TABLE seats (
  concert_id      INTEGER NOT NULL REFERENCES concerts (id),
  number          INTEGER NOT NULL,
  price           INTEGER NOT NULL CHECK (price > 0),
  status          TEXT    NOT NULL DEFAULT 'AVAILABLE' CHECK (status = 'AVAILABLE' OR status = 'HELD' OR status = 'RESERVED'),
  reservation_id  TEXT,
  held_until      INTEGER,
  PRIMARY KEY (concert_id, number)
) WITHOUT ROWID;

CREATE TABLE reservations (
  id           TEXT    PRIMARY KEY,
  user_id      TEXT    NOT NULL,
  concert_id   INTEGER NOT NULL,
  seat_number  INTEGER NOT NULL,
  price        INTEGER NOT NULL,
  status       TEXT    NOT NULL CHECK (status = 'TEMPORARILY_ASSIGNED' OR status = 'CONFIRMED' OR status = 'CANCELLED' OR status = 'EXPIRED'),
  expires_at   INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  FOREIGN KEY (concert_id, seat_number) REFERENCES seats (concert_id, number)
);
-- The last line of defence against double booking: one live reservation per seat.
CREATE UNIQUE INDEX one_live_reservation_per_seat ON reservations (concert_id, seat_number)
  WHERE status IN ('TEMPORARILY_ASSIGNED', 'CONFIRMED');
CREATE INDEX holds_by_user ON reservations (user_id, expires_at) WHERE status = 'TEMPORARILY_ASSIGNED';
CREATE INDEX holds_by_expiry ON reservations (expires_at) WHERE status = 'TEMPORARILY_ASSIGNED';

CREATE TABLE reservation_history (
  id              INTEGER PRIMARY KEY,
  reservation_id  TEXT    NOT NULL REFERENCES reservations (id),
  action          TEXT    NOT NULL CHECK (action = 'HOLD' OR action = 'CANCEL' OR action = 'AUTO_RELEASE' OR action = 'CONFIRM'),
  reason          TEXT,
  created_at      INTEGER NOT NULL
);
CREATE INDEX reservation_history_by_reservation ON reservation_history (reservation_id);

CREATE TABLE balances (
  user_id     TEXT    PRIMARY KEY,
  balance     INTEGER NOT NULL CHECK (balance BETWEEN 0 AND 100000000),
  updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Every money movement; balance_after of a user's newest row equals balances.balance.
CREATE TABLE balance_history (
  seq            INTEGER PRIMARY KEY,
  id             TEXT    NOT NULL UNIQUE,
  user_id        TEXT    NOT NULL,
  type           TEXT    NOT NULL CHECK (type IN ('CHARGE', 'PAYMENT')),
  amount         INTEGER NOT NULL CHECK (amount > 0),
  balance_after  INTEGER NOT NULL CHECK (balance_after >= 0),
  created_at     INTEGER NOT NULL
);
CREATE INDEX balance_history_by_user ON balance_history (user_id, seq);

CREATE TABLE payments (
  id              TEXT    PRIMARY KEY,
  reservation_id  TEXT    NOT NULL UNIQUE REFERENCES reservations (id),
  user_id         TEXT    NOT NULL,
  concert_id      INTEGER NOT NULL,
  seat_number     INTEGER NOT NULL,
  amount          INTEGER NOT NULL,
  balance_after   INTEGER NOT NULL,
  created_at      INTEGER NOT NULL
);

-- Completed successes only: a key moves money at most once because this row is written in the
-- same transaction as the money.
CREATE TABLE idempotency_keys (
  user_id      TEXT    NOT NULL,
  key          TEXT    NOT NULL,
  endpoint     TEXT    NOT NULL,
  fingerprint  TEXT    NOT NULL,
  result_ref   TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- Queue tokens: written when issued and when their state changes, never per poll.
CREATE TABLE tokens (
  id            TEXT    PRIMARY KEY,
  user_id       TEXT    NOT NULL,
  seq           INTEGER NOT NULL,
  state         TEXT    NOT NULL CHECK (state = 'WAITING' OR state = 'ACTIVE' OR state = 'SPENT' OR state = 'DROPPED'),
  issued_at     INTEGER NOT NULL,
  active_until  INTEGER,
  spent_at      INTEGER
) WITHOUT ROWID;
CREATE INDEX tokens_by_state ON tokens (state, seq);

CREATE TABLE settings (
  name   TEXT PRIMARY KEY,
  value  TEXT NOT NULL
) WITHOUT ROWID;
