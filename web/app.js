/* concertd: the fans' booking page. Plain JS, no build step, same-origin API (see API.md). */
'use strict';
(function () {
  // ---------------------------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------------------------
  var $ = function (id) { return document.getElementById(id); };
  var USER_RE = /^[A-Za-z0-9._@-]{1,64}$/;
  var SECTION = 100; // seats per section of the seat map
  var COLS = 10; // seats per row
  var SEAT_REFRESH_MS = 3000;
  var CONCERT_REFRESH_MS = 15000;

  var h = window.concertdShared.h;
  function won(n) { return Number(n).toLocaleString('ko-KR') + '원'; }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var a = new Uint8Array(16); crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }
  var WEEK = ['일', '월', '화', '수', '목', '금', '토'];
  function dateKo(ymd) {
    var p = String(ymd).split('-');
    if (p.length !== 3) return String(ymd);
    var d = new Date(Date.UTC(+p[0], +p[1] - 1, +p[2]));
    return +p[0] + '년 ' + (+p[1]) + '월 ' + (+p[2]) + '일 (' + WEEK[d.getUTCDay()] + ')';
  }
  function timeKo(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return '';
    return d.toLocaleString('ko-KR', { month: 'long', day: 'numeric', weekday: 'short', hour: 'numeric', minute: '2-digit', second: '2-digit' });
  }
  function clock(sec) {
    sec = Math.max(0, Math.ceil(sec));
    var hh = Math.floor(sec / 3600), mm = Math.floor((sec % 3600) / 60), ss = sec % 60;
    var two = function (n) { return (n < 10 ? '0' : '') + n; };
    return (hh ? hh + ':' + two(mm) : String(mm)) + ':' + two(ss);
  }
  var clockKo = window.concertdShared.clockKo;

  // Server clock: times in the API are the server's; the Date header tells us roughly how far off we are.
  var skew = 0;
  function now() { return Date.now() + skew; }
  function noteServerDate(res) {
    var d = Date.parse(res.headers.get('Date') || '');
    if (isNaN(d)) return;
    var sample = d + 500 - Date.now();
    skew = Math.abs(sample) > 2000 ? sample : 0;
  }
  function secondsUntil(iso) { return (Date.parse(iso) - now()) / 1000; }

  // ---------------------------------------------------------------------------------------
  // State, kept in sessionStorage so a reload resumes
  // ---------------------------------------------------------------------------------------
  var KEY = 'concertd.fan.v1';
  var st = load();
  function blank() {
    return { userId: '', token: '', status: '', activeUntil: null, opensAt: null, firstPos: 0, lastPollAt: 0,
      pollAfter: 0, holds: [], paid: [], concertId: null, screen: '', lastPayment: null, payKeys: {}, charge: null, concerts: {} };
  }
  function load() {
    try {
      var s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
      if (s && typeof s === 'object') { var b = blank(); for (var k in b) if (!(k in s)) s[k] = b[k]; return s; }
    } catch (e) { /* a broken entry starts afresh */ }
    return blank();
  }
  function save() { try { sessionStorage.setItem(KEY, JSON.stringify(st)); } catch (e) { /* private mode */ } }

  /* With --user-auth-secret the server wants X-User-Auth (<userId>.<expiry>.<signature>), signed by
     the operator's login service, which sends the fan here as /#auth=<that value>. It is taken out
     of the address at once (not left in history or a shared link), kept for the tab, sent with
     every call, and fixes the id the fan joins with. */
  var AUTH_KEY = 'concertd.fan.auth';
  var userAuth = takeUserAuth();
  function takeUserAuth() {
    var m = /(?:^#|&)auth=([^&]+)/.exec(location.hash);
    if (m) {
      history.replaceState(null, '', location.pathname + location.search);
      try { sessionStorage.setItem(AUTH_KEY, decodeURIComponent(m[1])); } catch (e) { return decodeURIComponent(m[1]); }
    }
    try { return sessionStorage.getItem(AUTH_KEY) || ''; } catch (e) { return ''; }
  }
  function authUserId() {
    var parts = userAuth.split('.');  // the id may hold dots; expiry and signature never do
    return parts.length >= 3 ? parts.slice(0, -2).join('.') : '';
  }
  function liveHolds() {
    return st.holds.filter(function (x) { return x.state === 'held' && secondsUntil(x.expiresAt) > 0; });
  }

  // ---------------------------------------------------------------------------------------
  // Messages: every code of the contract in Korean, never the raw code
  // ---------------------------------------------------------------------------------------
  var TEXT = {
    INVALID_REQUEST: '입력한 내용을 확인해 주세요.',
    NOT_FOUND: '요청한 기능을 찾을 수 없습니다. 페이지를 새로 고쳐 주세요.',
    METHOD_NOT_ALLOWED: '요청을 처리할 수 없습니다. 페이지를 새로 고쳐 주세요.',
    PAYLOAD_TOO_LARGE: '보낸 내용이 너무 큽니다.',
    RATE_LIMITED: '요청이 너무 많습니다. 잠시 후 다시 시도합니다.',
    MISSING_TOKEN: '대기열 입장 정보가 없습니다. 다시 줄을 서 주세요.',
    INVALID_TOKEN: '입장 시간이 끝났거나 대기열 정보가 만료되었습니다. 다시 줄을 서 주세요.',
    FORBIDDEN: '이 아이디로는 처리할 수 없는 요청입니다. 다시 줄을 서 주세요.',
    TOKEN_NOT_ACTIVE: '아직 입장 차례가 아닙니다. 대기 화면으로 돌아갑니다.',
    USER_AUTH_REQUIRED: '로그인 확인이 필요합니다. 다시 로그인한 뒤 시도해 주세요.',
    CONCERT_NOT_FOUND: '공연을 찾을 수 없습니다. 공연 목록을 다시 확인해 주세요.',
    SEAT_NOT_FOUND: '없는 좌석입니다. 좌석 배치도에서 다시 골라 주세요.',
    HOLD_LIMIT_EXCEEDED: '한 번에 잡을 수 있는 좌석 수를 넘었습니다. 잡아 둔 좌석을 결제하거나 놓은 뒤 다시 시도해 주세요.',
    SEAT_ALREADY_ASSIGNED: '이미 다른 사용자가 선택한 좌석입니다. 다른 좌석을 골라 주세요.',
    SEAT_LOCKED: '다른 사용자가 처리 중인 좌석입니다. 잠시 후 다시 시도합니다.',
    RESERVATION_NOT_FOUND: '예약을 찾을 수 없습니다.',
    RESERVATION_NOT_CANCELLABLE: '이미 결제되었거나 시간이 지난 예약이라 놓을 수 없습니다.',
    INVALID_AMOUNT: '충전 금액이 올바르지 않습니다. 10,000원부터 1,000,000원까지 원 단위 정수로 입력해 주세요.',
    BALANCE_LIMIT_EXCEEDED: '잔액은 1억 원을 넘을 수 없습니다. 더 적은 금액을 충전해 주세요.',
    INSUFFICIENT_BALANCE: '잔액이 부족합니다. 충전한 뒤 다시 결제해 주세요.',
    INVALID_RESERVATION: '유효하지 않은 예약입니다. 시간이 지났거나 이미 결제 또는 취소된 좌석입니다.',
    IDEMPOTENCY_KEY_REUSED: '같은 요청이 다른 내용으로 이미 처리되었습니다. 다시 시도해 주세요.',
    IDEMPOTENCY_KEY_IN_USE: '앞서 보낸 요청을 아직 처리하고 있습니다. 잠시 후 결과를 확인합니다.',
    ADMIN_KEY_REQUIRED: '관리자 인증이 필요한 요청입니다.',
    SERVICE_UNAVAILABLE: '서비스에 잠시 연결할 수 없습니다. 잠시 후 다시 시도합니다.'
  };
  var FIELD = { userId: '아이디', concertId: '공연', seatNumber: '좌석 번호', reservationId: '예약', amount: '충전 금액' };
  function errText(r) {
    if (!r) return '요청을 처리하지 못했습니다. 잠시 후 다시 시도해 주세요.';
    var d = r.data || {};
    if (r.code === 'INVALID_REQUEST' && d.field && FIELD[d.field]) return FIELD[d.field] + '을(를) 확인해 주세요.';
    return TEXT[r.code] || '요청을 처리하지 못했습니다. 잠시 후 다시 시도해 주세요.';
  }

  // In-place message, optionally with one action button.
  function say(el, text, kind, action) {
    el.textContent = '';
    el.className = 'msg ' + (kind ? 'msg-' + kind : 'msg-error');
    if (!text) return;
    el.appendChild(h('span', { text: text }));
    if (action) {
      el.appendChild(document.createTextNode(' '));
      el.appendChild(h('button', { type: 'button', class: 'btn btn-small msg-action', 'data-testid': action.testid || null,
        text: action.label, onclick: action.run }));
    }
  }
  function announce(text) {
    var a = $('announcer');
    a.textContent = '';
    setTimeout(function () { a.textContent = text; }, 50);
  }

  // ---------------------------------------------------------------------------------------
  // Connection banner and the API client
  // ---------------------------------------------------------------------------------------
  var banner = $('net-banner');
  var retryNow = null;
  function netDown(text, seconds) {
    banner.hidden = false;
    banner.textContent = '';
    banner.appendChild(h('span', { text: text + ' 자동으로 다시 연결합니다.' }));
    banner.appendChild(h('button', { type: 'button', class: 'btn btn-small', text: '지금 다시 시도',
      onclick: function () { if (retryNow) retryNow(); } }));
  }
  function netUp() {
    if (!banner.hidden) { banner.hidden = true; banner.textContent = ''; announce('다시 연결되었습니다.'); }
  }
  function waitRetry(ms) {
    return new Promise(function (resolve) {
      var t = setTimeout(done, ms);
      function done() { clearTimeout(t); if (retryNow === done) retryNow = null; resolve(); }
      retryNow = done;
    });
  }
  var LOST = '인터넷 연결이 끊겼습니다.';
  var DOWN = '서버에 연결할 수 없습니다.';

  /* One API call. Network failures, 5xx and 429 are shown in the banner and retried with backoff
     (every POST here is safe to repeat: token issue returns the live token, a hold of one's own seat
     answers with its id, charge and payment carry an Idempotency-Key) unless opts.once. */
  function api(method, path, opts) {
    opts = opts || {};
    var headers = { 'Accept': 'application/json' };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.auth) headers['Authorization'] = 'Bearer ' + st.token;
    if (opts.idem) headers['Idempotency-Key'] = opts.idem;
    if (userAuth) headers['X-User-Auth'] = userAuth;
    var delay = 1000;
    var attempt = function () {
      return fetch(path, { method: method, headers: headers, cache: 'no-store', credentials: 'same-origin',
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined })
        .then(function (res) {
          noteServerDate(res);
          return res.text().then(function (text) {
            var data = null;
            try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
            var r = { ok: res.ok, status: res.status, data: data || {}, code: data && data.code, headers: res.headers };
            if (res.status === 429 || res.status >= 500) {
              if (opts.once) { netDown(res.status === 429 ? TEXT.RATE_LIMITED : DOWN); r.transient = true; return r; }
              var wait = Number(r.data.retryAfterSeconds || res.headers.get('Retry-After')) * 1000 || delay;
              netDown(res.status === 429 ? TEXT.RATE_LIMITED : DOWN, wait / 1000);
              return waitRetry(wait).then(function () { delay = Math.min(delay * 2, 15000); return attempt(); });
            }
            netUp();
            return r;
          });
        }, function () {
          var text = navigator.onLine === false ? LOST : DOWN;
          if (opts.once) { netDown(text); return { ok: false, status: 0, data: {}, code: null, transient: true }; }
          netDown(text, delay / 1000);
          return waitRetry(delay).then(function () { delay = Math.min(delay * 2, 15000); return attempt(); });
        });
    };
    return attempt();
  }
  window.addEventListener('online', function () { if (retryNow) retryNow(); });

  // ---------------------------------------------------------------------------------------
  // Screens
  // ---------------------------------------------------------------------------------------
  var TITLES = { join: '대기열 입장', prequeue: '오픈 대기', waiting: '입장 대기 중', concerts: '공연 선택',
    seats: '좌석 선택', checkout: '결제', done: '예매 완료', ended: '다시 줄 서기' };
  var current = '';
  var leaveHooks = [];
  function show(name, opts) {
    opts = opts || {};
    leaveHooks.forEach(function (f) { f(); });
    leaveHooks = [];
    Object.keys(TITLES).forEach(function (k) { $('screen-' + k).hidden = k !== name; });
    current = name;
    st.screen = name; save();
    document.title = TITLES[name] + ' · 콘서트 예매';
    updateWho();
    if (opts.focus !== false) {
      var hd = $('h-' + name);
      hd.focus({ preventScroll: true });
      window.scrollTo(0, 0);
    }
  }
  function onLeave(f) { leaveHooks.push(f); }

  function updateWho() {
    var w = $('who');
    if (!st.userId || current === 'join') { w.hidden = true; return; }
    w.hidden = false;
    var text = st.userId + ' 님';
    if (st.status === 'active' && st.activeUntil) {
      var left = secondsUntil(st.activeUntil);
      text += left > 0 ? ' · 입장 시간 ' + clock(left) + ' 남음' : ' · 입장 시간 종료';
    }
    w.textContent = text;
  }

  // ---------------------------------------------------------------------------------------
  // Joining and the line
  // ---------------------------------------------------------------------------------------
  $('join-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var input = $('user-id'), err = $('user-id-error');
    var id = input.value.trim();
    if (!USER_RE.test(id)) {
      input.setAttribute('aria-invalid', 'true');
      say(err, id ? '아이디는 영문, 숫자, 마침표(.), 밑줄(_), @, 하이픈(-)만 쓸 수 있고 64자 이하여야 합니다.' : '아이디를 입력해 주세요.');
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    say(err, '');
    join(id, ev.submitter || null);
  });

  var joining = false;
  function join(userId, button) {
    if (joining) return;
    joining = true;
    if (button) { button.disabled = true; button.textContent = '줄 서는 중…'; }
    var changed = userId !== st.userId;
    api('POST', '/api/queue/token', { body: { userId: userId } }).then(function (r) {
      joining = false;
      if (button) { button.disabled = false; button.textContent = '줄 서기'; }
      if (!r.ok) {
        var msg = errText(r);
        if (current === 'join') { say($('user-id-error'), msg); $('user-id').focus(); }
        else { show('ended'); $('ended-text').textContent = msg; }
        return;
      }
      var d = r.data;
      if (changed) { var fresh = blank(); st = fresh; }
      st.userId = d.userId || userId;
      if (st.token !== d.token) { st.firstPos = 0; st.lastPollAt = 0; }
      st.token = d.token;
      st.lastPollAt = Date.now();
      applyStatus(d.status, d);
      save();
      route(true);
    });
  }

  function applyStatus(status, d) {
    st.status = status;
    if (d.pollAfterSeconds) st.pollAfter = d.pollAfterSeconds;
    if (status === 'pre_queue') st.opensAt = d.opensAt;
    if (status === 'waiting') {
      var pos = d.queuePosition != null ? d.queuePosition : d.position;
      st.position = pos;
      if (pos > st.firstPos) st.firstPos = pos;
      st.eta = d.estimatedWaitTime || '';
    }
    if (status === 'active') { st.activeUntil = d.activeUntil || st.activeUntil; endedNoticeShown = false; }
    save();
  }

  // Where a fan with this state belongs.
  function route(fresh) {
    if (!st.token) { showJoin(); return; }
    if (st.status === 'pre_queue') { showPrequeue(); return; }
    if (st.status === 'waiting') { showWaiting(); return; }
    if (st.status === 'active') {
      if (fresh) announce('입장 차례가 되었습니다. 공연을 선택해 주세요.');
      if (!fresh && st.screen === 'checkout' && st.holds.length) { showCheckout(); return; }
      if (!fresh && st.screen === 'seats' && st.concertId) { showSeats(st.concertId); return; }
      showConcerts(); return;
    }
    if (st.status === 'spent') {
      if (st.screen === 'done' && st.lastPayment) { showDone(); return; }
      if (liveHolds().length) { showCheckout(); return; }
    }
    showEnded();
  }

  function showJoin() {
    show('join');
    var signedIn = authUserId();
    if (signedIn) {
      $('user-id').value = signedIn;
      $('user-id').readOnly = true;
      $('user-id-hint').textContent = '로그인한 아이디로 줄을 섭니다.';
    }
    else if (st.userId && !$('user-id').value) $('user-id').value = st.userId;
  }

  // The one poller of GET /api/queue/status: never sooner than pollAfterSeconds after the last poll.
  var pollTimer = null, pollGen = 0;
  function startPolling() {
    stopPolling();
    var gen = ++pollGen;
    var failDelay = 0;
    var next = function (ms) { pollTimer = setTimeout(tick, Math.max(ms, 1000)); };
    var tick = function () {
      if (gen !== pollGen) return;
      st.lastPollAt = Date.now(); save();
      api('GET', '/api/queue/status', { auth: true, once: true }).then(function (r) {
        if (gen !== pollGen) return;
        var pace = (st.pollAfter || 5) * 1000;
        if (r.transient) {
          failDelay = Math.min(Math.max(pace, failDelay * 2 || pace), 60000);
          var wm = $('wait-msg');
          if (wm) say(wm, '연결이 불안정합니다. ' + Math.round(failDelay / 1000) + '초 후 다시 확인합니다. 순번은 그대로 유지됩니다.', 'info');
          next(failDelay);
          return;
        }
        failDelay = 0;
        say($('wait-msg'), '', 'info');
        if (!r.ok) {
          stopPolling();
          if (r.code === 'INVALID_TOKEN' || r.code === 'MISSING_TOKEN') {
            var was = st.status;
            st.status = 'gone'; save();
            showEnded(was === 'waiting' || was === 'pre_queue'
              ? '대기열 정보가 만료되었습니다. 다시 줄을 서 주세요.' : null);
          } else { showEnded(errText(r)); }
          return;
        }
        var before = st.status;
        applyStatus(r.data.status, r.data);
        if (r.data.status === 'active') { stopPolling(); route(true); return; }
        if (r.data.status !== before) { route(false); return; }
        if (r.data.status === 'waiting') renderWaiting(true);
        next((r.data.pollAfterSeconds || st.pollAfter || 5) * 1000);
      });
    };
    var since = Date.now() - (st.lastPollAt || 0);
    var pace = (st.pollAfter || 5) * 1000;
    next(since >= pace ? 0 : pace - since);
  }
  function stopPolling() { pollGen++; clearTimeout(pollTimer); pollTimer = null; }

  function showPrequeue() {
    show('prequeue');
    $('open-at').textContent = st.opensAt ? '오픈 시각: ' + timeKo(st.opensAt) : '';
    renderPrequeue();
    startPolling();
    onLeave(stopPolling);
  }
  function renderPrequeue() {
    if (current !== 'prequeue') return;
    var left = st.opensAt ? secondsUntil(st.opensAt) : 0;
    var el = $('open-countdown');
    el.textContent = left > 0 ? clockKo(left) : '곧 대기 순번이 정해집니다';
    el.setAttribute('aria-label', left > 0 ? '오픈까지 ' + clockKo(left) + ' 남음' : '오픈되었습니다. 곧 대기 순번이 정해집니다');
  }

  function showWaiting() {
    show('waiting');
    renderWaiting(false);
    if (st.position) announce('대기 순번 ' + st.position + '번입니다.' + (st.eta ? ' 예상 대기 시간 약 ' + st.eta + '.' : ''));
    else announce('입장 대기 중입니다.');
    startPolling();
    onLeave(stopPolling);
  }
  var lastAnnounced = null;
  function renderWaiting(speak) {
    var pos = st.position || 0;
    $('place').textContent = pos ? pos.toLocaleString('ko-KR') : '-';
    $('ahead').textContent = pos > 1 ? '내 앞에 ' + (pos - 1).toLocaleString('ko-KR') + '명' : pos === 1 ? '다음 차례입니다' : '';
    $('wait-eta').textContent = st.eta ? '예상 대기 시간 약 ' + st.eta : '';
    var first = Math.max(st.firstPos || pos, pos);
    var pct = first ? Math.round(100 * (first - pos + 1) / (first + 1)) : 0;
    var bar = $('wait-progress');
    bar.setAttribute('aria-valuenow', String(pct));
    bar.setAttribute('aria-valuetext', pct + '% · 대기 순번 ' + pos + '번');
    bar.firstElementChild.style.width = pct + '%';
    if (speak && pos !== lastAnnounced) {
      announce('대기 순번 ' + pos + '번.' + (st.eta ? ' 예상 대기 약 ' + st.eta + '.' : ''));
    }
    lastAnnounced = pos;
  }

  function showEnded(text) {
    show('ended');
    $('ended-text').textContent = text || TEXT.INVALID_TOKEN;
  }

  function rejoin() {
    var id = st.userId;
    if (!id) { showJoin(); return; }
    st.status = ''; save();
    join(id, null);
  }
  document.addEventListener('click', function (ev) {
    var t = ev.target.closest('[data-go], [data-action]');
    if (!t) return;
    var go = t.getAttribute('data-go'), act = t.getAttribute('data-action');
    if (go === 'concerts') showConcerts();
    if (go === 'checkout') showCheckout();
    if (act === 'rejoin') rejoin();
    if (act === 'logout') { stopPolling(); st = blank(); save(); $('user-id').value = ''; showJoin(); }
  });

  // Token trouble on a protected call: what to tell the fan, in place.
  function tokenTrouble(r, el) {
    if (r.code === 'TOKEN_NOT_ACTIVE') {
      st.status = 'waiting';
      if (r.data.position) st.position = r.data.position;
      save();
      showWaiting();
      return true;
    }
    if (r.code === 'INVALID_TOKEN' || r.code === 'MISSING_TOKEN' || r.code === 'FORBIDDEN') {
      if (st.status === 'active') st.status = 'spent';
      save();
      say(el, r.code === 'FORBIDDEN' ? TEXT.FORBIDDEN : '입장 시간이 끝나 이 작업을 할 수 없습니다. 다시 줄을 서 주세요.', 'error',
        { label: '다시 줄 서기', run: rejoin, testid: 'rejoin-inline' });
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------------------------------
  // Concerts by date
  // ---------------------------------------------------------------------------------------
  function showConcerts() {
    show('concerts');
    renderHoldsShortcut();
    loadConcerts(true);
    var t = setInterval(function () { if (!document.hidden) loadConcerts(false); }, CONCERT_REFRESH_MS);
    onLeave(function () { clearInterval(t); });
  }
  function renderHoldsShortcut() {
    var n = liveHolds().length;
    $('holds-shortcut').hidden = !n;
    $('holds-shortcut-text').textContent = n ? '결제를 기다리는 좌석이 ' + n + '석 있습니다.' : '';
  }
  var lastConcerts = '', concertsLoading = false;
  function loadConcerts(first) {
    var list = $('concert-list');
    if (first && !list.childElementCount) list.appendChild(h('p', { class: 'muted', text: '공연 목록을 불러오는 중…' }));
    if (concertsLoading) return;
    concertsLoading = true;
    api('GET', '/api/concerts/available-dates').then(function (r) {
      concertsLoading = false;
      if (current !== 'concerts') return;
      if (!r.ok) { say($('concerts-msg'), errText(r)); return; }
      say($('concerts-msg'), '');
      var concerts = r.data.concerts || [];
      var sig = JSON.stringify(r.data);
      if (!first && sig === lastConcerts) return; // unchanged: keep the list (and a reader's place) as it is
      lastConcerts = sig;
      var focused = document.activeElement && document.activeElement.getAttribute('data-testid');
      list.textContent = '';
      if (!concerts.length) {
        list.appendChild(h('p', { class: 'card', text: '지금 예매할 수 있는 공연이 없습니다. 잠시 후 다시 확인해 주세요.' }));
        return;
      }
      (r.data.dates || []).forEach(function (date) {
        var sec = h('section', { class: 'date-group', 'aria-labelledby': 'd-' + date },
          h('h2', { class: 'h2 date', id: 'd-' + date, text: dateKo(date) }));
        var ul = h('ul', { class: 'concerts' });
        concerts.filter(function (c) { return c.date === date; }).forEach(function (c) {
          st.concerts[c.concertId] = { title: c.title, venue: c.venue, date: c.date };
          var price = c.minPrice === c.maxPrice ? won(c.minPrice) : won(c.minPrice) + ' ~ ' + won(c.maxPrice);
          ul.appendChild(h('li', { class: 'card concert' },
            h('h3', { class: 'concert-title', text: c.title }),
            h('p', { class: 'muted', text: c.venue }),
            h('p', { class: 'facts' },
              h('span', { text: '잔여 ' + Number(c.availableSeats).toLocaleString('ko-KR') + '석' }),
              h('span', { text: price })),
            h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'concert-' + c.concertId,
              'aria-label': c.title + ' ' + dateKo(c.date) + ' 좌석 선택', text: '좌석 선택',
              onclick: function () { showSeats(c.concertId); } })));
        });
        sec.appendChild(ul);
        list.appendChild(sec);
      });
      save();
      if (focused) { var again = list.querySelector('[data-testid="' + focused + '"]'); if (again) again.focus(); }
    });
  }

  // ---------------------------------------------------------------------------------------
  // Seat map: sections of 100 seats, 10 to a row, one tab stop (roving tabindex)
  // ---------------------------------------------------------------------------------------
  var seatsData = null, section = 0, picked = null, focusSeat = null, holding = false, lockTimer = null;
  var STATUS_KO = { available: '선택 가능', temporarily_assigned: '선점 중', reserved: '판매 완료' };

  function showSeats(concertId) {
    if (st.concertId !== concertId) { picked = null; focusSeat = null; section = 0; seatsData = null; }
    st.concertId = concertId;
    var c = st.concerts[concertId];
    $('h-seats').textContent = c ? c.title + ' 좌석 선택' : '좌석 선택';
    $('seats-sub').textContent = c ? dateKo(c.date) + ' · ' + c.venue : '';
    show('seats');
    say($('hold-msg'), '');
    renderPick();
    if (seatsData && seatsData.concertId === concertId) renderGrid();
    else $('seat-grid').textContent = '';
    loadSeats();
    var t = setInterval(function () { if (!document.hidden && !holding) loadSeats(); }, SEAT_REFRESH_MS);
    onLeave(function () { clearInterval(t); clearTimeout(lockTimer); });
  }
  var seatsLoading = false;
  function loadSeats() {
    var id = st.concertId;
    if (seatsLoading === id) return;
    seatsLoading = id;
    return api('GET', '/api/concerts/' + id + '/seats').then(function (r) {
      if (seatsLoading === id) seatsLoading = false;
      if (current !== 'seats' || st.concertId !== id) return;
      if (!r.ok) { say($('hold-msg'), errText(r)); return; }
      var first = !seatsData || seatsData.concertId !== id;
      seatsData = r.data;
      if (!st.concerts[id]) {
        st.concerts[id] = { title: '공연 ' + id, venue: '', date: r.data.date };
        $('seats-sub').textContent = dateKo(r.data.date);
      }
      if (first) { setupSections(); setupPrices(); renderGrid(); } else { updateSections(); updateGrid(); }
      if (picked && statusOf(picked) !== 'available') {
        var p = picked; picked = null; renderPick();
        if (!holding) say($('hold-msg'), p + '번 좌석을 방금 다른 분이 선택했습니다. 다른 좌석을 골라 주세요.');
      }
    });
  }
  function seat(n) { return seatsData.seats[n - 1]; }
  function mine(n) {
    return liveHolds().some(function (x) { return x.concertId === st.concertId && x.seatNumber === n; });
  }
  function statusOf(n) { var s = seat(n); return s ? s.status : 'reserved'; }
  function sectionCount() { return Math.ceil(seatsData.seats.length / SECTION); }
  function freeIn(k) {
    var n = 0, s = seatsData.seats, end = Math.min(s.length, (k + 1) * SECTION);
    for (var i = k * SECTION; i < end; i++) if (s[i].status === 'available') n++;
    return n;
  }
  function setupSections() {
    var count = sectionCount(), sel = $('section-select');
    $('section-pick').hidden = count < 2;
    sel.textContent = '';
    for (var k = 0; k < count; k++) sel.appendChild(h('option', { value: String(k) }));
    if (section >= count) section = 0;
    sel.value = String(section);
    updateSections();
  }
  function updateSections() {
    var sel = $('section-select'), total = seatsData.seats.length;
    if (sel.options.length !== sectionCount()) { setupSections(); return; }
    for (var k = 0; k < sel.options.length; k++) {
      var from = k * SECTION + 1, to = Math.min(total, (k + 1) * SECTION);
      sel.options[k].textContent = (k + 1) + '구역 ' + from + '~' + to + '번 · 잔여 ' + freeIn(k) + '석';
    }
  }
  $('section-select').addEventListener('change', function () {
    section = Number(this.value) || 0;
    focusSeat = null;
    renderGrid();
  });
  var tiers = [];
  function setupPrices() {
    var seen = {};
    seatsData.seats.forEach(function (s) { seen[s.price] = 1; });
    tiers = Object.keys(seen).map(Number).sort(function (a, b) { return b - a; });
    var ul = $('price-legend');
    ul.textContent = '';
    if (tiers.length > 6) { ul.hidden = true; return; }
    ul.hidden = false;
    if (tiers.length === 1) { ul.appendChild(h('li', { text: '전 좌석 ' + won(tiers[0]) })); return; }
    tiers.forEach(function (p, i) {
      ul.appendChild(h('li', null, h('span', { class: 'sw tier t' + i, 'aria-hidden': 'true' }), won(p)));
    });
  }
  function tierOf(price) { var i = tiers.indexOf(price); return i >= 0 && i < 6 && tiers.length > 1 ? ' t' + i : ''; }
  // the accessible name is the visible number plus this hidden rest: "12번 좌석, 50,000원, 선택 가능"
  function seatLabel(n) {
    var s = seat(n);
    var what = mine(n) ? '내가 잡은 좌석' : STATUS_KO[s.status] || s.status;
    return '번 좌석, ' + won(s.price) + ', ' + what;
  }
  function seatClass(n) {
    var s = seat(n), cls = 'seat';
    if (mine(n)) cls += ' mine';
    else if (s.status === 'temporarily_assigned') cls += ' held';
    else if (s.status === 'reserved') cls += ' sold';
    else cls += ' free';
    return cls + tierOf(s.price) + (n >= 1000 ? ' long' : '');
  }
  function sectionRange() {
    var total = seatsData.seats.length;
    return [section * SECTION + 1, Math.min(total, (section + 1) * SECTION)];
  }
  function renderGrid() {
    var grid = $('seat-grid'), range = sectionRange();
    grid.textContent = '';
    if (focusSeat == null || focusSeat < range[0] || focusSeat > range[1]) {
      focusSeat = picked && picked >= range[0] && picked <= range[1] ? picked : range[0];
    }
    var row = null;
    for (var n = range[0]; n <= range[1]; n++) {
      if ((n - range[0]) % COLS === 0) {
        row = h('div', { role: 'row', class: 'seat-row' });
        grid.appendChild(row);
      }
      var avail = statusOf(n) === 'available';
      var b = h('button', { type: 'button', class: seatClass(n), 'data-seat': String(n), 'data-testid': 'seat-' + n,
        tabindex: n === focusSeat ? '0' : '-1', 'aria-pressed': n === picked ? 'true' : 'false',
        'aria-disabled': avail || mine(n) ? null : 'true' }, String(n), h('span', { class: 'sr-only', text: seatLabel(n) }));
      row.appendChild(h('div', { role: 'gridcell' }, b));
    }
    grid.setAttribute('aria-label', '좌석 배치도' + (sectionCount() > 1 ? ', ' + (section + 1) + '구역' : '') + ', 한 줄에 ' + COLS + '석');
  }
  function updateGrid() {
    var btns = $('seat-grid').querySelectorAll('button[data-seat]');
    for (var i = 0; i < btns.length; i++) {
      var b = btns[i], n = Number(b.getAttribute('data-seat'));
      var cls = seatClass(n), lab = seatLabel(n);
      if (b.className !== cls) b.className = cls;
      if (b.lastChild.textContent !== lab) b.lastChild.textContent = lab;
      var dis = statusOf(n) === 'available' || mine(n) ? null : 'true';
      if (dis) b.setAttribute('aria-disabled', 'true'); else b.removeAttribute('aria-disabled');
      b.setAttribute('aria-pressed', n === picked ? 'true' : 'false');
    }
  }
  function moveFocus(n) {
    var b = $('seat-grid').querySelector('button[data-seat="' + n + '"]');
    if (!b) return;
    var old = $('seat-grid').querySelector('button[tabindex="0"]');
    if (old) old.setAttribute('tabindex', '-1');
    b.setAttribute('tabindex', '0');
    focusSeat = n;
    b.focus();
  }
  $('seat-grid').addEventListener('keydown', function (ev) {
    var b = ev.target.closest('button[data-seat]');
    if (!b || !seatsData) return;
    var n = Number(b.getAttribute('data-seat')), range = sectionRange(), col = (n - range[0]) % COLS, to = null;
    switch (ev.key) {
      case 'ArrowRight': to = n + 1; break;
      case 'ArrowLeft': to = n - 1; break;
      case 'ArrowDown': to = n + COLS; break;
      case 'ArrowUp': to = n - COLS; break;
      case 'Home': to = ev.ctrlKey ? range[0] : n - col; break;
      case 'End': to = ev.ctrlKey ? range[1] : Math.min(range[1], n - col + COLS - 1); break;
      case 'PageDown': case 'PageUp':
        if (sectionCount() > 1) {
          var k = section + (ev.key === 'PageDown' ? 1 : -1);
          if (k >= 0 && k < sectionCount()) {
            ev.preventDefault();
            section = k; $('section-select').value = String(k);
            focusSeat = Math.min(seatsData.seats.length, k * SECTION + (n - range[0]) + 1);
            renderGrid(); moveFocus(focusSeat);
            announce((k + 1) + '구역');
          }
        }
        return;
      default: return;
    }
    ev.preventDefault();
    if (to >= range[0] && to <= range[1]) moveFocus(to);
  });
  $('seat-grid').addEventListener('click', function (ev) {
    var b = ev.target.closest('button[data-seat]');
    if (!b) return;
    var n = Number(b.getAttribute('data-seat'));
    moveFocus(n);
    if (mine(n)) { showCheckout(); return; }
    var s = statusOf(n);
    if (s !== 'available') {
      say($('hold-msg'), n + '번 좌석은 ' + (s === 'reserved' ? '이미 판매되었습니다.' : '다른 분이 잡아 둔 좌석입니다.') + ' 다른 좌석을 골라 주세요.');
      return;
    }
    picked = n;
    clearTimeout(lockTimer);
    say($('hold-msg'), '');
    updateGrid();
    renderPick();
  });
  function renderPick() {
    var text = $('pick-text'), btn = $('hold-btn');
    if (!picked || !seatsData) {
      text.textContent = '좌석을 선택해 주세요.';
      var had = document.activeElement === btn;
      btn.disabled = true;
      btn.textContent = '이 좌석 잡기';
      if (had) { var cur = $('seat-grid').querySelector('button[tabindex="0"]'); if (cur) cur.focus(); }
      return;
    }
    text.textContent = '선택한 좌석: ' + picked + '번 · ' + won(seat(picked).price);
    btn.disabled = false; // stays focusable while the request runs; hold() ignores a second press
    btn.setAttribute('aria-busy', holding ? 'true' : 'false');
    btn.textContent = holding ? '좌석을 잡는 중…' : picked + '번 좌석 잡기';
  }
  $('hold-btn').addEventListener('click', function () { if (picked) hold(st.concertId, picked); });

  function hold(concertId, n) {
    if (holding) return;
    holding = true;
    clearTimeout(lockTimer);
    renderPick();
    say($('hold-msg'), '');
    api('POST', '/api/reservations', { auth: true, body: { concertId: concertId, seatNumber: n } }).then(function (r) {
      holding = false;
      if (r.ok) { addHold(r.data); picked = null; showCheckout(r.data.reservationId); return; }
      if (r.code === 'SEAT_ALREADY_ASSIGNED' && r.data.reservationId) {
        // our own hold (e.g. an answer lost to the network): adopt it
        return api('GET', '/api/reservations/' + encodeURIComponent(r.data.reservationId), { auth: true }).then(function (g) {
          if (g.ok && g.data.status === 'TEMPORARILY_ASSIGNED') { addHold(g.data); picked = null; showCheckout(g.data.reservationId); }
          else { renderPick(); say($('hold-msg'), TEXT.SEAT_ALREADY_ASSIGNED); }
        });
      }
      if (current !== 'seats') return;
      renderPick();
      var el = $('hold-msg');
      if (tokenTrouble(r, el)) return;
      if (r.code === 'SEAT_LOCKED') {
        var wait = Number(r.data.retryAfterSeconds || r.headers.get('Retry-After')) || 1;
        var left = wait;
        var tickLock = function () {
          if (current !== 'seats' || picked !== n) return;
          if (left <= 0) { hold(concertId, n); return; }
          say(el, '다른 사용자가 처리 중인 좌석입니다. ' + left + '초 후 다시 시도합니다.', 'warn');
          left--;
          lockTimer = setTimeout(tickLock, 1000);
        };
        tickLock();
        return;
      }
      if (r.code === 'SEAT_ALREADY_ASSIGNED') { picked = null; renderPick(); }
      if (r.code === 'HOLD_LIMIT_EXCEEDED') {
        say(el, TEXT.HOLD_LIMIT_EXCEEDED, 'error', { label: '결제하러 가기', run: function () { showCheckout(); } });
      } else {
        say(el, errText(r));
      }
      loadSeats();
    });
  }
  function addHold(d) {
    st.holds = st.holds.filter(function (x) { return x.reservationId !== d.reservationId; });
    var c = st.concerts[d.concertId] || {};
    st.holds.push({ reservationId: d.reservationId, concertId: d.concertId, seatNumber: d.seatNumber, price: d.price,
      expiresAt: d.expiresAt, ttl: Math.max(1, secondsUntil(d.expiresAt)), state: 'held', title: c.title || '공연 ' + d.concertId, date: c.date || '', venue: c.venue || '' });
    save();
  }

  // ---------------------------------------------------------------------------------------
  // Checkout: holds with their countdowns, balance and charge, payment
  // ---------------------------------------------------------------------------------------
  var balance = null;
  function showCheckout(focusId) {
    show('checkout');
    st.holds = st.holds.filter(function (x) { return x.state === 'held' || x.state === 'expired'; });
    save();
    renderHolds();
    loadBalance();
    syncHolds();
    $('more-seats').hidden = st.status !== 'active';
    if (focusId) announce('좌석을 잡았습니다. ' + holdDeadlineText(st.holds.filter(function (x) { return x.reservationId === focusId; })[0]));
  }
  function holdDeadlineText(x) {
    return x ? clockKo(secondsUntil(x.expiresAt)) + ' 안에 결제해 주세요.' : '';
  }
  $('more-seats').addEventListener('click', function () {
    if (st.concertId) showSeats(st.concertId); else showConcerts();
  });
  function syncHolds() {
    st.holds.filter(function (x) { return x.state === 'held'; }).forEach(function (x) {
      api('GET', '/api/reservations/' + encodeURIComponent(x.reservationId), { auth: true }).then(function (r) {
        if (!r.ok) return; // a lapsed token: keep what we know, the countdown still runs
        var s = { TEMPORARILY_ASSIGNED: 'held', CONFIRMED: 'paid', CANCELLED: 'cancelled', EXPIRED: 'expired' }[r.data.status];
        if (s && s !== x.state) { x.state = s; save(); if (current === 'checkout') renderHolds(); }
      });
    });
  }
  function renderHolds() {
    var ul = $('hold-list');
    ul.textContent = '';
    var shown = st.holds.filter(function (x) { return x.state === 'held' || x.state === 'expired'; });
    if (!shown.length) {
      ul.appendChild(h('li', { class: 'card muted', text: '잡아 둔 좌석이 없습니다.' }));
      return;
    }
    shown.forEach(function (x) {
      var li = h('li', { class: 'card hold', 'data-reservation-id': x.reservationId, 'data-testid': 'hold-' + x.concertId + '-' + x.seatNumber },
        h('h3', { class: 'hold-title', text: x.title + ' · ' + x.seatNumber + '번 좌석' }),
        h('p', { class: 'muted', text: [x.date ? dateKo(x.date) : '', x.venue].filter(Boolean).join(' · ') }),
        h('p', { class: 'price', text: won(x.price) }),
        h('p', { class: 'timer' },
          h('span', { class: 'timer-label', text: '남은 시간 ' }),
          h('span', { class: 'timer-value', role: 'timer', 'data-testid': 'hold-countdown' })),
        h('div', { class: 'timer-bar', 'aria-hidden': 'true' }, h('div', { class: 'timer-fill' })),
        h('p', { class: 'msg', role: 'alert', 'data-testid': 'hold-alert' }),
        h('div', { class: 'row buttons' },
          h('button', { type: 'button', class: 'btn btn-primary pay', 'data-testid': 'pay-button',
            'aria-label': x.seatNumber + '번 좌석 ' + won(x.price) + ' 결제하기', text: won(x.price) + ' 결제하기',
            onclick: function () { pay(x, li); } }),
          h('button', { type: 'button', class: 'btn cancel', 'data-testid': 'cancel-button',
            'aria-label': x.seatNumber + '번 좌석 놓기', text: '좌석 놓기', onclick: function () { cancelHold(x, li); } })));
      ul.appendChild(li);
      tickHold(x, li);
    });
    renderDue();
  }
  function tickHold(x, li) {
    var left = secondsUntil(x.expiresAt);
    var v = li.querySelector('.timer-value'), fill = li.querySelector('.timer-fill');
    if (x.state === 'held' && left > 0) {
      v.textContent = clock(left);
      v.setAttribute('aria-label', clockKo(left) + ' 남음');
      li.classList.toggle('urgent', left <= 60);
      var ttl = x.ttl || (x.ttl = Math.max(left, 1));
      fill.style.width = Math.max(0, Math.min(100, 100 * left / ttl)) + '%';
      if (Math.ceil(left) === 60 && !x.warned) { x.warned = true; announce(x.seatNumber + '번 좌석 결제 시간이 1분 남았습니다.'); }
      return;
    }
    if (x.state === 'held') { x.state = 'expired'; save(); }
    if (li.classList.contains('expired')) return;
    li.classList.add('expired');
    li.querySelector('.timer-label').textContent = '결제 시간 ';
    v.textContent = '만료';
    v.removeAttribute('aria-label');
    fill.style.width = '0';
    li.querySelector('.pay').hidden = true;
    li.querySelector('.cancel').hidden = true;
    holdExpired(x, li);
    renderDue();
  }
  function holdExpired(x, li) {
    var el = li.querySelector('.msg');
    var again = st.status === 'active'
      ? { label: '좌석 다시 고르기', testid: 'reselect', run: function () { dropHold(x); showSeats(x.concertId); } }
      : { label: '다시 줄 서기', testid: 'rejoin-inline', run: function () { dropHold(x); rejoin(); } };
    say(el, '좌석을 잡아 둔 시간이 지나 ' + x.seatNumber + '번 좌석이 풀렸습니다. 결제하려면 좌석을 다시 골라 주세요.', 'error', again);
    li.setAttribute('data-state', 'expired');
  }
  function dropHold(x) {
    st.holds = st.holds.filter(function (y) { return y !== x; }); save();
  }
  // what the live holds cost against the balance
  function renderDue() {
    var el = $('due');
    var live = liveHolds(), total = 0;
    live.forEach(function (x) { total += x.price; });
    if (!live.length || balance == null) { el.textContent = ''; return; }
    el.textContent = '결제할 좌석 ' + live.length + '석, 합계 ' + won(total) +
      (balance < total ? ' · 모두 결제하려면 ' + won(total - balance) + '이 더 필요합니다.' : ' · 잔액으로 모두 결제할 수 있습니다.');
  }
  function loadBalance() {
    if (!st.userId) return;
    api('GET', '/api/users/' + encodeURIComponent(st.userId) + '/balance').then(function (r) {
      if (r.ok) setBalance(r.data.balance);
    });
  }
  function setBalance(v) {
    balance = v;
    var el = $('balance');
    if (el) el.textContent = v == null ? '-' : won(v);
    renderDue();
  }

  document.querySelector('.quick').addEventListener('click', function (ev) {
    var b = ev.target.closest('button[data-amount]');
    if (!b) return;
    $('charge-amount').value = Number(b.getAttribute('data-amount')).toLocaleString('ko-KR');
    $('charge-amount').focus();
  });
  var charging = false;
  $('charge-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (charging) return;
    var input = $('charge-amount'), msg = $('charge-msg');
    var raw = input.value.replace(/[,\s원]/g, '');
    var amount = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!(amount >= 10000 && amount <= 1000000)) {
      input.setAttribute('aria-invalid', 'true');
      say(msg, '충전 금액은 10,000원부터 1,000,000원까지 숫자로 입력해 주세요.');
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    // one key per intended charge: a retry after a lost answer cannot charge twice
    if (!st.charge || st.charge.amount !== amount) st.charge = { amount: amount, key: newKey() };
    save();
    charging = true;
    var btn = ev.submitter || this.querySelector('button[type=submit]');
    btn.disabled = true;
    say(msg, '충전하는 중…', 'info');
    doCharge(amount, 0).then(function (r) {
      charging = false;
      btn.disabled = false;
      if (r.ok) {
        st.charge = null; save();
        setBalance(r.data.currentBalance);
        input.value = '';
        say(msg, won(r.data.chargedAmount) + '을 충전했습니다. 잔액은 ' + won(r.data.currentBalance) + '입니다.', 'ok');
        var stale = $('hold-list').querySelectorAll('.msg[data-kind="short"]');
        for (var i = 0; i < stale.length; i++) { say(stale[i], ''); stale[i].removeAttribute('data-kind'); }
        renderDue();
        return;
      }
      if (tokenTrouble(r, msg)) return;
      say(msg, errText(r));
    });
  });
  function doCharge(amount, round) {
    return api('POST', '/api/users/' + encodeURIComponent(st.userId) + '/balance',
      { auth: true, idem: st.charge.key, body: { amount: amount } }).then(function (r) {
      if (r.code === 'IDEMPOTENCY_KEY_IN_USE' && round < 10) return sleep(1000).then(function () { return doCharge(amount, round + 1); });
      if (r.code === 'IDEMPOTENCY_KEY_REUSED' && round < 10) { st.charge.key = newKey(); save(); return doCharge(amount, round + 1); }
      return r;
    });
  }

  var paying = {};
  var endedNoticeShown = false;
  function pay(x, li) {
    if (paying[x.reservationId]) return;
    paying[x.reservationId] = true;
    var btn = li.querySelector('.pay'), el = li.querySelector('.msg');
    btn.disabled = true;
    btn.textContent = '결제하는 중…';
    say(el, '');
    if (!st.payKeys[x.reservationId]) { st.payKeys[x.reservationId] = newKey(); save(); }
    doPay(x, 0).then(function (r) {
      paying[x.reservationId] = false;
      btn.disabled = false;
      btn.textContent = won(x.price) + ' 결제하기';
      if (r.ok) {
        x.state = 'paid';
        delete st.payKeys[x.reservationId];
        st.paid = (st.paid || []).concat([{ title: x.title, seatNumber: x.seatNumber, amount: r.data.amount }]);
        st.lastPayment = { paymentId: r.data.paymentId, amount: r.data.amount, balanceAfter: r.data.balanceAfter,
          seatNumber: r.data.seatNumber, concertId: r.data.concertId, title: x.title, date: x.date, venue: x.venue };
        if (st.status === 'active') st.status = 'spent'; // paying spends the token; other holds stay payable for a while
        save();
        setBalance(r.data.balanceAfter);
        showDone();
        return;
      }
      if (r.code === 'INSUFFICIENT_BALANCE') {
        var need = r.data.requiredAmount, have = r.data.currentBalance;
        if (have != null) setBalance(have);
        var short = need != null && have != null ? need - have : null;
        var text = short != null
          ? '잔액이 부족합니다. 현재 잔액 ' + won(have) + ', 결제 금액 ' + won(need) + '으로 ' + won(short) + '이 모자랍니다. 충전한 뒤 다시 결제해 주세요.'
          : TEXT.INSUFFICIENT_BALANCE;
        el.setAttribute('data-kind', 'short');
        say(el, text, 'error', { label: '부족한 금액 충전', testid: 'charge-shortfall', run: function () {
          var amt = Math.min(1000000, Math.max(10000, Math.ceil((short || 10000) / 1000) * 1000));
          $('charge-amount').value = amt.toLocaleString('ko-KR');
          $('charge-amount').focus();
        } });
        return;
      }
      if (r.code === 'INVALID_RESERVATION') { explainInvalid(x, li, el); return; }
      if (tokenTrouble(r, el)) return;
      say(el, errText(r));
    });
  }
  function doPay(x, round) {
    return api('POST', '/api/payments', { auth: true, idem: st.payKeys[x.reservationId], body: { reservationId: x.reservationId } })
      .then(function (r) {
        if (r.code === 'IDEMPOTENCY_KEY_IN_USE' && round < 10) return sleep(1000).then(function () { return doPay(x, round + 1); });
        if (r.code === 'IDEMPOTENCY_KEY_REUSED' && round < 10) { st.payKeys[x.reservationId] = newKey(); save(); return doPay(x, round + 1); }
        return r;
      });
  }
  // INVALID_RESERVATION covers several cases: ask the reservation which one it is.
  function explainInvalid(x, li, el) {
    api('GET', '/api/reservations/' + encodeURIComponent(x.reservationId), { auth: true }).then(function (r) {
      var s = r.ok ? r.data.status : null;
      if (s === 'EXPIRED' || (s === 'TEMPORARILY_ASSIGNED' && secondsUntil(x.expiresAt) <= 0)) {
        x.state = 'expired'; save(); tickHold(x, li); return;
      }
      if (s === 'CONFIRMED') { x.state = 'paid'; save(); say(el, '이미 결제가 끝난 좌석입니다.', 'ok'); return; }
      if (s === 'CANCELLED') { x.state = 'cancelled'; save(); say(el, '놓은 좌석이라 결제할 수 없습니다. 좌석을 다시 골라 주세요.'); return; }
      say(el, TEXT.INVALID_RESERVATION);
    });
  }
  function cancelHold(x, li) {
    var el = li.querySelector('.msg');
    api('DELETE', '/api/reservations/' + encodeURIComponent(x.reservationId), { auth: true }).then(function (r) {
      if (r.ok || r.code === 'RESERVATION_NOT_FOUND') {
        x.state = 'cancelled'; save();
        announce(x.seatNumber + '번 좌석을 놓았습니다.');
        renderHolds();
        var first = $('hold-list').querySelector('button');
        ($('hold-list').querySelector('.pay') ? first : $('h-checkout')).focus();
        return;
      }
      if (tokenTrouble(r, el)) return;
      say(el, errText(r));
    });
  }

  // ---------------------------------------------------------------------------------------
  // Confirmation
  // ---------------------------------------------------------------------------------------
  function showDone() {
    show('done');
    var p = st.lastPayment || {};
    var dl = $('ticket-info');
    dl.textContent = '';
    [['공연', p.title], ['날짜', p.date ? dateKo(p.date) : ''], ['장소', p.venue], ['좌석', p.seatNumber + '번'],
      ['결제 금액', won(p.amount)], ['결제 후 잔액', won(p.balanceAfter)], ['결제 번호', p.paymentId]]
      .forEach(function (kv) {
        if (!kv[1]) return;
        dl.appendChild(h('div', null, h('dt', { text: kv[0] }), h('dd', { text: kv[1], class: kv[0] === '결제 번호' ? 'small' : null })));
      });
    var paid = st.paid || [];
    $('done-all').hidden = paid.length < 2;
    var all = $('done-paid');
    all.textContent = '';
    paid.forEach(function (q) { all.appendChild(h('li', { text: q.title + ' · ' + q.seatNumber + '번 · ' + won(q.amount) })); });
    renderDoneOthers();
    announce('예매가 완료되었습니다. ' + (p.seatNumber || '') + '번 좌석.');
  }
  function renderDoneOthers() {
    var others = liveHolds();
    $('done-others').hidden = !others.length;
    var ul = $('done-holds');
    ul.textContent = '';
    others.forEach(function (x) {
      ul.appendChild(h('li', { text: x.title + ' · ' + x.seatNumber + '번 · ' + won(x.price) + ' · ' + clock(secondsUntil(x.expiresAt)) + ' 남음' }));
    });
  }

  // ---------------------------------------------------------------------------------------
  // One clock for every countdown on the page
  // ---------------------------------------------------------------------------------------
  setInterval(function () {
    updateWho();
    if (current === 'prequeue') renderPrequeue();
    if (current === 'checkout') {
      st.holds.forEach(function (x) {
        var li = $('hold-list').querySelector('[data-reservation-id="' + (window.CSS && CSS.escape ? CSS.escape(x.reservationId) : x.reservationId) + '"]');
        if (li) tickHold(x, li);
      });
    }
    if (current === 'done' && !$('done-others').hidden) renderDoneOthers();
    // the active window closed while choosing: no new holds can be made
    if (st.status === 'active' && st.activeUntil && secondsUntil(st.activeUntil) <= 0 && !endedNoticeShown) {
      endedNoticeShown = true;
      st.status = 'spent'; save();
      if (current === 'concerts' || current === 'seats') {
        if (liveHolds().length) showCheckout();
        else showEnded('입장 시간이 끝났습니다. 좌석을 고르려면 다시 줄을 서 주세요.');
      }
    }
  }, 1000);

  // ---------------------------------------------------------------------------------------
  // Start: resume from sessionStorage
  // ---------------------------------------------------------------------------------------
  function resume() {
    if (!st.token) { showJoin(); return; }
    if (st.status === 'spent' || st.status === 'gone') { route(false); return; }
    // ask where we stand (counts as a poll: respect the pace)
    var since = Date.now() - (st.lastPollAt || 0), pace = (st.pollAfter || 0) * 1000;
    if ((st.status === 'waiting' || st.status === 'pre_queue') && since < pace) { route(false); return; }
    st.lastPollAt = Date.now(); save();
    api('GET', '/api/queue/status', { auth: true }).then(function (r) {
      if (r.ok) { applyStatus(r.data.status, r.data); route(false); return; }
      if (r.code === 'INVALID_TOKEN' || r.code === 'MISSING_TOKEN') {
        if (st.status === 'active') st.status = 'spent'; else st.status = 'gone';
        save();
        route(false);
        return;
      }
      showEnded(errText(r));
    });
  }
  resume();
})();
