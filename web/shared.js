/* concertd's pages: the helpers the booking page and the dashboard share (loaded first). */
'use strict';
window.concertdShared = {
  /* h('p', {class: 'x', text: 'y', onclick: f}, child, ...): an element with its attributes,
     listeners and children; strings become text nodes (never parsed as HTML). */
  h: function (tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k) || attrs[k] == null) continue;
        if (k === 'text') el.textContent = attrs[k];
        else if (k === 'class') el.className = attrs[k];
        else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), attrs[k]);
        else el.setAttribute(k, attrs[k]);
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c == null || c === false) continue;
      el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return el;
  },
  /* A countdown in Korean words: "1일 2시간 3분 4초", leading zero units left out. */
  clockKo: function (sec) {
    sec = Math.max(0, Math.ceil(sec));
    var d = Math.floor(sec / 86400), hh = Math.floor((sec % 86400) / 3600), mm = Math.floor((sec % 3600) / 60), ss = sec % 60;
    var out = [];
    if (d) out.push(d + '일');
    if (d || hh) out.push(hh + '시간');
    if (d || hh || mm) out.push(mm + '분');
    out.push(ss + '초');
    return out.join(' ');
  }
};
