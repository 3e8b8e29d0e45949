/* concertd: the operators' dashboard. Plain JS, no build step; every call carries the admin key (X-Admin-Key). */
'use strict';
(function () {
  // ---------------------------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------------------------
  var $ = function (id) { return document.getElementById(id); };
  var POLL_MS = 2000; // the numbers' refresh
  var MAX_BACKOFF_MS = 10000; // slowest retry while the server cannot be reached
  var TIMEOUT_MS = 8000; // one request's limit
  var WINDOW_MS = 5 * 60000; // the charts' span
  var MAX_SAMPLES = 150; // the span at one sample per poll
  var SETTING_MAX = 1000000; // the server's bound of maxActive and admitPerMinute
  var STORE = 'concertd.admin.key';
  var SVGNS = 'http://www.w3.org/2000/svg';
  var nf = new Intl.NumberFormat('ko-KR');
  var compact = new Intl.NumberFormat('ko-KR', { notation: 'compact', maximumFractionDigits: 1 });

  var h = window.concertdShared.h;
  function svg(tag, attrs) {
    var el = document.createElementNS(SVGNS, tag);
    for (var k in attrs) el.setAttribute(k, attrs[k]);
    return el;
  }
  function num(n) { return nf.format(n); }
  function won(n) { return nf.format(n) + '원'; }
  function pct(part, whole) { return whole ? Math.round(100 * part / whole) + '%' : ''; }
  function two(n) { return (n < 10 ? '0' : '') + n; }
  function hms(d) { return two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds()); }
  var WEEK = ['일', '월', '화', '수', '목', '금', '토'];
  function dateKo(ymd) {
    var p = String(ymd).split('-');
    if (p.length !== 3) return String(ymd);
    var d = new Date(Date.UTC(+p[0], +p[1] - 1, +p[2]));
    return +p[0] + '. ' + (+p[1]) + '. ' + (+p[2]) + '. (' + WEEK[d.getUTCDay()] + ')';
  }
  function timeKo(iso) {
    return new Date(iso).toLocaleString('ko-KR', { year: 'numeric', month: 'long', day: 'numeric', weekday: 'short',
      hour: 'numeric', minute: '2-digit', second: '2-digit' });
  }
  var clockKo = window.concertdShared.clockKo;
  // datetime-local speaks the browser's zone; the API speaks UTC ("2026-12-08T10:00:00Z").
  function localToIso(v) {
    var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?/.exec(v);
    if (!m) return null;
    var d = new Date(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    return isNaN(d) ? null : d.toISOString().slice(0, 19) + 'Z';
  }
  function isoToLocal(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return '';
    return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) + 'T' +
      two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
  }
  // "1,000원" and "50 000" are integers too: what an operator types, not only what the API wants.
  function parseCount(v) {
    var raw = String(v).replace(/[,\s원석명]/g, '');
    return /^[0-9]{1,10}$/.test(raw) ? Number(raw) : NaN;
  }

  // Server clock: the opening countdown is against the server's time, known roughly from its Date header.
  var skew = 0;
  function noteServerDate(res) {
    var d = Date.parse(res.headers.get('Date') || '');
    if (isNaN(d)) return;
    var sample = d + 500 - Date.now();
    skew = Math.abs(sample) > 2000 ? sample : 0;
  }
  function secondsUntil(iso) { return (Date.parse(iso) - (Date.now() + skew)) / 1000; }

  // The key lives as long as the tab: sessionStorage, never localStorage.
  function loadKey() { try { return sessionStorage.getItem(STORE) || ''; } catch (e) { return ''; } }
  function saveKey(k) { try { if (k) sessionStorage.setItem(STORE, k); else sessionStorage.removeItem(STORE); } catch (e) { /* private mode */ } }

  // ---------------------------------------------------------------------------------------
  // Messages: Korean, never a raw code
  // ---------------------------------------------------------------------------------------
  var BAD_KEY = '관리자 키가 올바르지 않습니다. 다시 입력해 주세요.';
  var DOWN = '서버에 연결할 수 없습니다. 잠시 후 다시 시도해 주세요.';
  var TEXT = {
    INVALID_REQUEST: '입력한 내용을 확인해 주세요.',
    PAYLOAD_TOO_LARGE: '보낸 내용이 너무 큽니다.',
    RATE_LIMITED: '요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.',
    SERVICE_UNAVAILABLE: DOWN
  };
  var FIELD = {
    title: '공연 이름은 1자부터 200자까지 입력해 주세요.',
    venue: '공연장은 1자부터 200자까지 입력해 주세요.',
    date: '공연 날짜를 골라 주세요.',
    seatCount: '좌석 수는 1부터 5,000까지의 정수로 입력해 주세요.',
    price: '좌석 가격은 1,000원부터 10,000,000원까지 원 단위 정수로 입력해 주세요.',
    maxActive: '동시 입장 인원은 1부터 1,000,000까지의 정수로 입력해 주세요.',
    admitPerMinute: '분당 입장 제한은 1부터 1,000,000까지의 정수로 입력하거나, 제한이 없으면 비워 두세요.',
    opensAt: '오픈 시각을 날짜와 시각까지 모두 입력하거나, 오픈 시각이 없으면 비워 두세요.'
  };
  var HANGUL = /[\uac00-\ud7a3]/;
  // The server's own words when they are Korean; otherwise ours for the field or the code.
  function errText(r) {
    var d = r.data || {};
    if (typeof d.error === 'string' && HANGUL.test(d.error)) return d.error;
    if (r.code === 'INVALID_REQUEST' && FIELD[d.field]) return FIELD[d.field];
    if (r.status === 0 || r.status >= 500) return DOWN;
    return TEXT[r.code] || '요청을 처리하지 못했습니다. 잠시 후 다시 시도해 주세요.';
  }

  function say(el, text, kind) {
    el.className = 'msg msg-' + (kind || 'error');
    el.textContent = text || '';
  }
  function announce(text) {
    var a = $('announcer');
    a.textContent = '';
    setTimeout(function () { a.textContent = text; }, 50);
  }
  // A field's problem: said next to the form, the field marked and focused.
  function fieldError(input, msgEl, text) {
    input.setAttribute('aria-invalid', 'true');
    say(msgEl, text);
    input.focus();
  }
  function clearInvalid(form) {
    var bad = form.querySelectorAll('[aria-invalid]');
    for (var i = 0; i < bad.length; i++) bad[i].removeAttribute('aria-invalid');
  }

  // ---------------------------------------------------------------------------------------
  // API client: one attempt per call, 8 s at most; the poller decides about retrying
  // ---------------------------------------------------------------------------------------
  var adminKey = '';
  function api(method, path, body, key) {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, TIMEOUT_MS);
    var headers = { 'Accept': 'application/json', 'X-Admin-Key': key || adminKey };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(path, { method: method, headers: headers, cache: 'no-store', credentials: 'same-origin', signal: ctl.signal,
      body: body !== undefined ? JSON.stringify(body) : undefined })
      .then(function (res) {
        noteServerDate(res);
        return res.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          var parsed = data !== null && typeof data === 'object';
          return { ok: res.ok && parsed, status: res.status, data: parsed ? data : {}, code: parsed ? data.code : null };
        });
      })
      .catch(function () { return { ok: false, status: 0, data: {}, code: null }; })
      .finally(function () { clearTimeout(timer); });
  }

  // ---------------------------------------------------------------------------------------
  // Connection banner, as on the fans' page
  // ---------------------------------------------------------------------------------------
  var banner = $('net-banner');
  function netDown() {
    if (!banner.hidden) return; // built once: a focused retry button stays put
    banner.hidden = false;
    banner.appendChild(h('span', { text: '연결이 끊겼습니다. 다시 시도하는 중…' }));
    banner.appendChild(h('button', { type: 'button', class: 'btn btn-small', text: '지금 다시 시도', onclick: refresh }));
  }
  function netUp(quiet) {
    if (banner.hidden) return;
    banner.hidden = true;
    banner.textContent = '';
    if (!quiet) announce('다시 연결되었습니다.');
  }

  // ---------------------------------------------------------------------------------------
  // The key gate
  // ---------------------------------------------------------------------------------------
  $('key-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var input = $('admin-key'), err = $('admin-key-error');
    var key = input.value.trim();
    if (!key) { fieldError(input, err, '관리자 키를 입력해 주세요.'); return; }
    var btn = ev.submitter || this.querySelector('button[type=submit]');
    btn.disabled = true;
    btn.textContent = '확인하는 중…';
    api('GET', '/api/admin/queue', undefined, key).then(function (r) {
      btn.disabled = false;
      btn.textContent = '확인';
      if (r.status === 401) { fieldError(input, err, BAD_KEY); input.select(); return; }
      if (!r.ok) { fieldError(input, err, errText(r)); return; }
      input.removeAttribute('aria-invalid');
      say(err, '');
      input.value = '';
      enter(key, r.data);
      $('h-main').focus();
      announce('확인되었습니다. 운영 현황을 2초마다 새로 고칩니다.');
    });
  });

  var gen = 0; // bumped when the key changes: answers to an older key are dropped
  function enter(key, state) {
    adminKey = key;
    saveKey(key);
    gen++;
    samples = [];
    failDelay = 0;
    $('gate').hidden = true;
    $('dash').hidden = false;
    $('logout').hidden = false;
    if (state) applyQueue(state);
    refresh();
  }
  function lockOut(text) {
    gen++;
    clearTimeout(pollTimer);
    adminKey = '';
    saveKey('');
    netUp(true);
    $('dash').hidden = true;
    $('logout').hidden = true;
    $('updated').hidden = true;
    $('gate').hidden = false;
    var input = $('admin-key');
    if (text) fieldError(input, $('admin-key-error'), text);
    else { say($('admin-key-error'), ''); input.focus(); }
  }
  $('logout').addEventListener('click', function () {
    lockOut('');
    announce('관리자 키를 지웠습니다.');
  });

  // ---------------------------------------------------------------------------------------
  // Polling: one request pair at a time, every 2 s; backoff up to 10 s while the server is away
  // ---------------------------------------------------------------------------------------
  var pollTimer = null, busy = false, again = false, failDelay = 0;
  function refresh() {
    clearTimeout(pollTimer);
    if (!adminKey || document.hidden) return; // visibilitychange resumes
    if (busy) { again = true; return; }
    busy = true;
    again = false;
    var g = gen;
    Promise.all([api('GET', '/api/admin/queue'), api('GET', '/api/admin/sales')]).then(function (rs) {
      busy = false;
      if (g === gen) settle(rs[0], rs[1]);
      if (!adminKey) return;
      if (again) refresh();
      else pollTimer = setTimeout(refresh, failDelay || POLL_MS);
    });
  }
  document.addEventListener('visibilitychange', function () { if (!document.hidden) refresh(); });
  window.addEventListener('online', refresh);

  function settle(q, s) {
    if (q.status === 401 || s.status === 401) { lockOut(BAD_KEY); return; }
    // the line's numbers are the heartbeat: without them the page is stale, whatever sales says
    if (q.ok) {
      failDelay = 0;
      netUp();
      applyQueue(q.data);
      var u = $('updated');
      u.hidden = false;
      u.textContent = '마지막 갱신 ' + hms(new Date());
    } else {
      failDelay = Math.min(Math.max(POLL_MS, failDelay * 2), MAX_BACKOFF_MS);
      netDown();
    }
    if (s.ok) applySales(s.data);
    else if (q.ok) salesFailed(s); // when both fail the banner says it
    if (q.ok || s.ok) addSample(q.ok ? q.data : null, s.ok ? s.data : null);
  }

  // ---------------------------------------------------------------------------------------
  // Tiles
  // ---------------------------------------------------------------------------------------
  function setStat(name, text, sub) {
    document.querySelector('[data-stat="' + name + '"]').textContent = text;
    document.querySelector('[data-sub="' + name + '"]').textContent = sub || '';
  }
  var room = null; // the last state of the waiting room
  function applyQueue(d) {
    room = d;
    setStat('waiting', num(d.waiting) + '명', d.preQueue ? '오픈 전 대기 ' + num(d.preQueue) + '명' : '');
    setStat('active', num(d.active) + ' / ' + num(d.maxActive) + '명', '정원의 ' + pct(d.active, d.maxActive));
    setStat('admitted', num(d.admittedPerMinute) + '명',
      d.admitPerMinute == null ? '제한 없음' : '제한 분당 ' + num(d.admitPerMinute) + '명');
    renderRoom();
  }
  function applySales(d) {
    say($('sales-msg'), '', 'warn');
    setStat('held', num(d.held) + '석');
    setStat('released', num(d.released) + '석', d.cancelled != null ? '취소 ' + num(d.cancelled) + '석' : '');
    setStat('sold', num(d.sold) + '석');
    setStat('revenue', won(d.revenue));
    renderSales(d);
  }
  var salesShown = false;
  function salesFailed(r) {
    var text = r.status === 404 ? '이 서버는 아직 판매 집계를 제공하지 않습니다.' : '판매 집계를 불러오지 못했습니다. 계속 다시 시도합니다.';
    say($('sales-msg'), text, 'warn');
    if (salesShown) return; // keep the last table; the message says it is not fresh
    var body = $('sales-body');
    body.textContent = '';
    body.appendChild(h('tr', null, h('td', { colspan: '6', class: 'muted', text: '—' })));
  }

  // ---------------------------------------------------------------------------------------
  // Charts: the last 5 minutes of samples, drawn as SVG paths by hand
  // ---------------------------------------------------------------------------------------
  var CHARTS = [
    { id: 'queue', title: '대기·입장 인원', unit: '명', series: [['waiting', '대기 중'], ['active', '입장 중']] },
    { id: 'admitted', title: '분당 입장', unit: '명', series: [['admitted', '분당 입장']] },
    { id: 'seats', title: '선점·판매 좌석', unit: '석', series: [['held', '선점 중'], ['sold', '판매']] },
    { id: 'revenue', title: '매출', unit: '원', series: [['revenue', '매출']] }
  ];
  var W = 300, H = 100; // the plot's user units; it stretches to its box and the strokes do not
  var samples = [];
  function addSample(q, s) {
    var t = Date.now();
    samples.push({ t: t, waiting: q && q.waiting, active: q && q.active, admitted: q && q.admittedPerMinute,
      held: s && s.held, sold: s && s.sold, revenue: s && s.revenue });
    while (samples.length > MAX_SAMPLES || (samples.length && samples[0].t < t - WINDOW_MS)) samples.shift();
    CHARTS.forEach(drawChart);
  }
  function buildCharts() {
    var list = $('chart-list');
    CHARTS.forEach(function (c) {
      var hid = 'h-chart-' + c.id;
      var legend = h('ul', { class: 'legend', 'aria-hidden': 'true' });
      c.plot = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img', 'data-testid': 'chart-' + c.id + '-svg' });
      c.plot.appendChild(svg('path', { class: 'grid', d: 'M0 0H' + W + 'M0 ' + H / 2 + 'H' + W + 'M0 ' + H + 'H' + W }));
      c.paths = c.series.map(function (s, i) {
        legend.appendChild(h('li', null, h('span', { class: 'key s' + i }), s[1]));
        return c.plot.appendChild(svg('path', { class: 'line s' + i, d: '' }));
      });
      c.top = h('span', { text: '0' });
      list.appendChild(h('div', { class: 'card chart', role: 'group', 'aria-labelledby': hid, 'data-testid': 'chart-' + c.id },
        h('h3', { id: hid, class: 'h3', text: c.title }),
        legend,
        h('div', { class: 'plot' },
          h('div', { class: 'y', 'aria-hidden': 'true' }, c.top, h('span', { text: '0' })),
          h('div', { class: 'area' }, c.plot),
          h('div', { class: 'x', 'aria-hidden': 'true' }, h('span', { text: '5분 전' }), h('span', { text: '지금' })))));
      drawChart(c);
    });
  }
  // The smallest of 1, 2, 2.5, 5 times a power of ten that is not below v: a readable top line.
  function niceTop(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }
  function latest(key) {
    for (var i = samples.length - 1; i >= 0; i--) if (samples[i][key] != null) return samples[i][key];
    return null;
  }
  function amount(c, v) { return c.unit === '원' ? won(v) : num(v) + c.unit; }
  function drawChart(c) {
    var now = Date.now(), max = 0;
    samples.forEach(function (s) { c.series.forEach(function (k) { if (s[k[0]] > max) max = s[k[0]]; }); });
    var top = niceTop(max);
    c.series.forEach(function (k, i) { c.paths[i].setAttribute('d', pathOf(k[0], now - WINDOW_MS, top)); });
    c.top.textContent = c.unit === '원' ? compact.format(top) : num(top);
    var parts = c.series.map(function (k) {
      var v = latest(k[0]);
      return v == null ? null : k[1] + ' ' + amount(c, v);
    }).filter(Boolean);
    c.plot.setAttribute('aria-label', '최근 5분 ' + c.title + ' 추이. ' +
      (parts.length ? '지금 ' + parts.join(', ') + '. 5분 중 최대 ' + amount(c, max) + '.' : '아직 자료가 없습니다.'));
  }
  // A gap in the samples (that endpoint failed) breaks the line; a lone point shows as a dot (round cap).
  function pathOf(key, t0, top) {
    var d = '', pen = 'M';
    samples.forEach(function (s) {
      if (s[key] == null) { pen = 'M'; return; }
      var x = Math.max(0, (s.t - t0) / WINDOW_MS * W), y = H - s[key] / top * H;
      d += pen + x.toFixed(1) + ' ' + y.toFixed(1) + (pen === 'M' ? 'h0.01' : '');
      pen = 'L';
    });
    return d;
  }

  // ---------------------------------------------------------------------------------------
  // Sales per concert
  // ---------------------------------------------------------------------------------------
  var lastSales = '';
  function renderSales(d) {
    var list = Array.isArray(d.concerts) ? d.concerts : [];
    var sig = JSON.stringify(list);
    if (salesShown && sig === lastSales) return; // unchanged: keep the rows (and a reader's place)
    lastSales = sig;
    salesShown = true;
    $('sales-caption').textContent = d.concertCount > list.length
      ? '최근 공연 ' + num(list.length) + '개 (전체 ' + num(d.concertCount) + '개)' : '최근 공연부터 100개까지';
    var body = $('sales-body');
    body.textContent = '';
    if (!list.length) {
      body.appendChild(h('tr', null, h('td', { colspan: '6', class: 'muted', text: '아직 공연이 없습니다.' })));
      return;
    }
    list.forEach(function (c) {
      body.appendChild(h('tr', { 'data-testid': 'sales-row-' + c.concertId },
        h('th', { scope: 'row' }, h('span', { class: 'cell-title', text: c.title }), h('span', { class: 'cell-sub', text: c.venue })),
        h('td', { class: 'nowrap', text: dateKo(c.date) }),
        h('td', { class: 'num', text: num(c.seatCount) }),
        h('td', { class: 'num', text: num(c.held) }),
        h('td', { class: 'num' }, num(c.sold), h('span', { class: 'cell-sub', text: pct(c.sold, c.seatCount) })),
        h('td', { class: 'num', text: won(c.revenue) })));
    });
  }

  // ---------------------------------------------------------------------------------------
  // Waiting-room controls
  // ---------------------------------------------------------------------------------------
  var ROOM_INPUTS = { maxActive: 'max-active', admitPerMinute: 'admit-per-minute', opensAt: 'opens-at' };
  var sendingRoom = false;
  function renderRoom() {
    var paused = !!room.paused;
    var pill = $('room-state');
    pill.textContent = paused ? '일시 정지됨' : '입장 진행 중';
    pill.className = 'pill ' + (paused ? 'pill-paused' : 'pill-running');
    var t = $('pause-toggle');
    t.textContent = paused ? '입장 재개' : '입장 일시 정지';
    t.className = 'btn ' + (paused ? 'btn-primary' : 'btn-warn');
    t.disabled = false;
    fill('maxActive', String(room.maxActive));
    fill('admitPerMinute', room.admitPerMinute == null ? '' : String(room.admitPerMinute));
    fill('opensAt', room.opensAt ? isoToLocal(room.opensAt) : '');
    var seed = $('shuffle-seed');
    seed.textContent = room.shuffleSeed || '아직 없음';
    seed.classList.toggle('none', !room.shuffleSeed);
    renderOpens();
  }
  /* Shows the server's value unless the operator is editing the field: data-base is the value last
     shown, so a field whose value differs from it holds the operator's change (and is what Save sends). */
  function fill(name, value) {
    var input = $(ROOM_INPUTS[name]);
    var editing = input.dataset.base != null && (input.value !== input.dataset.base || input.validity.badInput);
    if (editing) return;
    input.value = value;
    input.dataset.base = input.value;
  }
  function renderOpens() {
    var el = $('opens-now');
    if (!room || !room.opensAt) { el.textContent = '정해진 오픈 시각이 없습니다. 지금 바로 줄을 설 수 있습니다.'; return; }
    var left = secondsUntil(room.opensAt);
    el.textContent = '현재 오픈 시각: ' + timeKo(room.opensAt) + (left > 0 ? ' · ' + clockKo(left) + ' 남음' : ' · 오픈됨');
  }

  $('pause-toggle').addEventListener('click', function () {
    if (!room || sendingRoom) return;
    var pausing = !room.paused;
    sendRoom({ paused: pausing }).then(function (ok) {
      if (ok) announce(pausing ? '입장을 일시 정지했습니다.' : '입장을 재개했습니다.');
    });
  });
  $('opens-clear').addEventListener('click', function () {
    $('opens-at').value = '';
    $('opens-at').focus();
  });
  $('room-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (sendingRoom) return;
    var msg = $('room-msg');
    clearInvalid(this);
    var change = roomChange(msg);
    if (!change) return;
    if (!Object.keys(change).length) { say(msg, '바뀐 값이 없습니다.', 'info'); return; }
    say(msg, '저장하는 중…', 'info');
    sendRoom(change).then(function (ok) { if (ok) say(msg, '저장했습니다.', 'ok'); });
  });
  // Only the fields the operator changed, checked as the server will; null when one is wrong (and said so).
  function roomChange(msg) {
    var change = {};
    var max = $('max-active'), cap = $('admit-per-minute'), opens = $('opens-at');
    if (max.value !== max.dataset.base) {
      var m = parseCount(max.value);
      if (!(m >= 1 && m <= SETTING_MAX)) { fieldError(max, msg, FIELD.maxActive); return null; }
      change.maxActive = m;
    }
    if (cap.value !== cap.dataset.base) {
      var c = cap.value.trim() === '' ? null : parseCount(cap.value);
      if (c !== null && !(c >= 1 && c <= SETTING_MAX)) { fieldError(cap, msg, FIELD.admitPerMinute); return null; }
      change.admitPerMinute = c;
    }
    if (opens.validity.badInput) { fieldError(opens, msg, FIELD.opensAt); return null; }
    if (opens.value !== opens.dataset.base) {
      var iso = opens.value === '' ? null : localToIso(opens.value);
      if (opens.value !== '' && !iso) { fieldError(opens, msg, FIELD.opensAt); return null; }
      change.opensAt = iso;
    }
    return change;
  }
  /* POST /api/admin/queue; resolves true when the server took it (its answer is the new state).
     One change at a time; the buttons stay enabled so that keyboard focus stays on them. */
  function sendRoom(change) {
    var msg = $('room-msg');
    sendingRoom = true;
    return api('POST', '/api/admin/queue', change).then(function (r) {
      sendingRoom = false;
      if (r.status === 401) { lockOut(BAD_KEY); return false; }
      if (!r.ok) {
        var input = $(ROOM_INPUTS[r.data.field] || '');
        if (input) fieldError(input, msg, errText(r)); else say(msg, errText(r));
        return false;
      }
      // what was sent is now the server's value: show it as such
      Object.keys(change).forEach(function (k) { if (ROOM_INPUTS[k]) delete $(ROOM_INPUTS[k]).dataset.base; });
      applyQueue(r.data);
      return true;
    });
  }

  // ---------------------------------------------------------------------------------------
  // New concert
  // ---------------------------------------------------------------------------------------
  var creating = false;
  $('concert-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (creating) return;
    var form = this, msg = $('concert-msg');
    clearInvalid(form);
    var draft = concertDraft(msg);
    if (!draft) return;
    creating = true; // the button stays enabled (and focused): this flag stops a second submit
    say(msg, '만드는 중…', 'info');
    api('POST', '/api/admin/concerts', draft).then(function (r) {
      creating = false;
      if (r.status === 401) { lockOut(BAD_KEY); return; }
      if (!r.ok) {
        var input = form.elements[r.data.field === 'prices' ? 'price' : r.data.field];
        if (input) fieldError(input, msg, errText(r)); else say(msg, errText(r));
        return;
      }
      say(msg, '공연을 만들었습니다 (번호 ' + r.data.concertId + ')', 'ok');
      form.reset();
      refresh();
    });
  });
  // The form's values checked as the server will; null when one is wrong (and said so).
  function concertDraft(msg) {
    var f = $('concert-form').elements;
    var title = f.title.value.trim(), venue = f.venue.value.trim();
    var seats = parseCount(f.seatCount.value), price = parseCount(f.price.value);
    var len = function (s) { return Array.from(s).length; };
    if (len(title) < 1 || len(title) > 200) { fieldError(f.title, msg, FIELD.title); return null; }
    if (len(venue) < 1 || len(venue) > 200) { fieldError(f.venue, msg, FIELD.venue); return null; }
    if (!/^\d{4}-\d\d-\d\d$/.test(f.date.value)) { fieldError(f.date, msg, FIELD.date); return null; }
    if (!(seats >= 1 && seats <= 5000)) { fieldError(f.seatCount, msg, FIELD.seatCount); return null; }
    if (!(price >= 1000 && price <= 10000000)) { fieldError(f.price, msg, FIELD.price); return null; }
    return { title: title, venue: venue, date: f.date.value, seatCount: seats, price: price };
  }

  // ---------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------
  buildCharts();
  setInterval(function () { if (adminKey) renderOpens(); }, 1000); // the opening countdown
  var stored = loadKey();
  if (stored) enter(stored, null);
  else $('admin-key').focus();
})();
