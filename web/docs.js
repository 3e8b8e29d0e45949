// concertd API reference: fetches /openapi.json and renders every route, grouped by tag, with its
// parameters, request body, responses and examples. Plain DOM, no library; text goes in as text
// nodes only (never innerHTML), so nothing in the document can inject markup.
'use strict';

let DOC = null;

/** An element with attributes and children (strings become text nodes; null is skipped). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c !== null && c !== undefined && c !== false) node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

/** Inline `code` spans of a line of text. */
function inline(text) {
  return text.split(/(`[^`]+`)/).map((part) => (part.startsWith('`') && part.endsWith('`') && part.length > 1
    ? el('code', { text: part.slice(1, -1) }) : part));
}

/** The document's small markdown: paragraphs, "- " lists, `code`. */
function prose(text) {
  const box = el('div', { class: 'desc' });
  for (const block of (text || '').split(/\n\n+/)) {
    const lines = block.split('\n');
    if (lines.every((l) => l.startsWith('- '))) box.append(el('ul', null, lines.map((l) => el('li', null, inline(l.slice(2))))));
    else box.append(el('p', null, inline(block)));
  }
  return box;
}

function resolve(ref) {
  return ref.slice(2).split('/').reduce((node, part) => node[part.replace(/~1/g, '/').replace(/~0/g, '~')], DOC);
}

const refName = (ref) => ref.split('/').pop();
const deref = (node) => (node && node.$ref ? deref(resolve(node.$ref)) : node);
const slug = (s) => s.replace(/[^A-Za-z0-9_-]+/g, '-');

/** allOf parts merged into one object view (later parts override a property of the same name). */
function merged(schema) {
  if (!schema.allOf) return schema;
  const out = { ...schema, properties: {}, required: [] };
  delete out.allOf;
  for (const part of [...schema.allOf.map(deref), schema]) {
    const p = merged(part === schema ? { ...schema, allOf: undefined } : part);
    Object.assign(out.properties, p.properties || {});
    out.required.push(...(p.required || []));
    if (p.type && !out.type) out.type = p.type;
  }
  return out;
}

/** One line saying what a schema admits: type and constraints. */
function describe(s) {
  const bits = [];
  if ('const' in s) return `= ${JSON.stringify(s.const)}`;
  if (s.enum) return `one of ${s.enum.map((v) => JSON.stringify(v)).join(' | ')}`;
  let type = Array.isArray(s.type) ? s.type.join(' or ') : s.type;
  if (type === 'array') {
    const items = s.items ? (s.items.$ref ? refName(s.items.$ref) : describe(deref(s.items))) : 'any';
    type = `array of ${items}`;
  }
  if (type) bits.push(type);
  if (s.format) bits.push(s.format);
  // JSON numbers past 2^53 arrive rounded: the one such bound is 2^63-1.
  const num = (n) => (n >= 2 ** 63 - 1024 ? '2^63-1' : n.toLocaleString('en'));
  if (s.minimum !== undefined && s.maximum !== undefined) bits.push(`${num(s.minimum)} to ${num(s.maximum)}`);
  else if (s.minimum !== undefined) bits.push(`≥ ${num(s.minimum)}`);
  else if (s.maximum !== undefined) bits.push(`≤ ${num(s.maximum)}`);
  const range = (lo, hi, unit) => (hi === undefined ? `at least ${lo} ${lo === 1 ? unit.slice(0, -1) : unit}` : `${lo ?? 0} to ${hi} ${unit}`);
  if (s.minLength !== undefined || s.maxLength !== undefined) bits.push(range(s.minLength, s.maxLength, 'characters'));
  if (s.minItems !== undefined || s.maxItems !== undefined) bits.push(range(s.minItems, s.maxItems, 'items'));
  if (s.uniqueItems) bits.push('unique');
  if (s.pattern) bits.push(`pattern ${s.pattern}`);
  if (s.default !== undefined) bits.push(`default ${JSON.stringify(s.default)}`);
  if (s.additionalProperties === false) bits.push('no other members');
  return bits.join(' · ');
}

/** A schema as a tree: its line, its properties, its alternatives. `seen` stops a $ref from
 * expanding twice on one branch. */
function schemaTree(schema, seen = new Set(), depth = 0) {
  const frag = [];
  let s = schema;
  if (s.$ref) {
    const name = refName(s.$ref);
    frag.push(el('a', { href: `#schema-${slug(name)}` }, name), ' ');
    if (seen.has(name) || depth > 6) return frag;
    seen = new Set([...seen, name]);
    s = { ...deref(s), description: schema.description || deref(s).description };
  }
  s = merged(s);
  const line = describe(s);
  if (line) frag.push(el('span', { class: 'type' }, line));
  if (s.description && depth > 0) frag.push(' — ', ...inline(s.description));
  const alternatives = s.oneOf || s.anyOf;
  if (alternatives) {
    frag.push(el('span', { class: 'type' }, s.oneOf ? ' exactly one of:' : ' any of:'));
    frag.push(el('ul', { class: 'tree' }, alternatives.map((alt) => el('li', null,
      alt.title && !alt.$ref ? el('strong', null, alt.title, ': ') : null,
      (alt.required && !alt.properties && !alt.type) ? `with ${alt.required.join(', ')}${alt.not ? ', without ' + (alt.not.required || []).join(', ') : ''}`
        : schemaTree(alt, seen, depth + 1)))));
  }
  if (s.properties && Object.keys(s.properties).length) {
    const required = new Set(s.required || []);
    frag.push(el('ul', { class: 'tree' }, Object.entries(s.properties).map(([name, prop]) => el('li', null,
      el('code', null, name), ' ', required.has(name) ? el('span', { class: 'req' }, 'required') : null, ' ',
      schemaTree(prop, seen, depth + 1)))));
  }
  if (s.items && (deref(s.items).properties || deref(s.items).oneOf) && !s.items.$ref) {
    frag.push(el('ul', { class: 'tree' }, el('li', null, 'each: ', schemaTree(s.items, seen, depth + 1))));
  }
  return frag;
}

function examplesOf(media) {
  if (!media) return [];
  if ('example' in media) return [['', '', media.example]];
  return Object.entries(media.examples || {}).map(([name, ex]) => [name, deref(ex).summary || '', deref(ex).value]);
}

function exampleBlocks(media) {
  const list = examplesOf(media);
  return list.map(([name, summary, value]) => el('details', { class: 'example', open: list.length === 1 },
    el('summary', null, 'Example', name ? [' ', el('strong', null, name)] : null, summary ? [': ', inline(summary)] : null),
    el('pre', null, el('code', null, typeof value === 'string' ? value : JSON.stringify(value, null, 2)))));
}

function mediaBlocks(content) {
  return Object.entries(content || {}).map(([type, media]) => el('div', null,
    el('p', { class: 'media' }, el('code', null, type)),
    media.schema ? el('div', null, schemaTree(media.schema)) : null,
    exampleBlocks(media)));
}

const SCHEME_TEXT = {
  queueToken: 'Authorization: Bearer <queue token>',
  adminKey: 'X-Admin-Key',
  userAuth: 'X-User-Auth (only with --user-auth-secret)',
};

function authLine(op) {
  const reqs = op.security || DOC.security || [];
  const names = reqs.map((r) => Object.keys(r)).filter((k) => k.length).map((k) => k.map((n) => SCHEME_TEXT[n] || n).join(' + '));
  const open = reqs.some((r) => !Object.keys(r).length);
  const text = names.length ? (open ? `none, or ${names.join(' / ')}` : names.join(' / ')) : 'none';
  return el('p', { class: 'auth' }, 'Auth: ', el('code', null, text));
}

function parametersTable(params) {
  if (!params.length) return null;
  return [el('h4', null, 'Parameters'), el('table', null,
    el('thead', null, el('tr', null, ['Name', 'In', 'Schema', 'Description'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', null, params.map(deref).map((p) => el('tr', null,
      el('td', null, el('code', null, p.name), p.required ? [' ', el('span', { class: 'req' }, 'required')] : null),
      el('td', null, p.in),
      el('td', null, schemaTree(p.schema || {})),
      el('td', null, inline(p.description || ''), p.example !== undefined ? [' e.g. ', el('code', null, String(p.example))] : null)))))];
}

function responseBlocks(responses) {
  return Object.entries(responses).map(([status, ref]) => {
    const r = deref(ref);
    const headers = Object.entries(r.headers || {});
    return el('div', { class: 'response' },
      el('h5', null, el('span', { class: `status s${status[0]}` }, status), el('span', null, inline(r.description))),
      headers.length ? el('ul', { class: 'tree' }, headers.map(([name, h]) => el('li', null, 'Header ', el('code', null, name), ' ',
        el('span', { class: 'type' }, describe(deref(h).schema || {})), ' — ', inline(deref(h).description || '')))) : null,
      mediaBlocks(r.content));
  });
}

/** Everything a filter matches an operation by. */
function searchText(path, method, op) {
  const codes = [];
  for (const [status, ref] of Object.entries(op.responses)) {
    codes.push(status);
    const schema = deref(ref).content?.['application/json']?.schema;
    for (const alt of (schema && (schema.oneOf || [schema])) || []) {
      const c = deref(alt).properties?.code?.const;
      if (c) codes.push(c);
    }
  }
  return [method, path, op.summary, op.operationId, ...(op.tags || []), ...codes].join(' ').toLowerCase();
}

function operationArticle(path, method, op) {
  const id = `op-${op.operationId}`;
  const body = op.requestBody && deref(op.requestBody);
  const article = el('article', { class: 'op', id, 'aria-labelledby': `${id}-h`, 'data-search': searchText(path, method, op) },
    el('h3', { id: `${id}-h` }, el('span', { class: `method ${method}` }, method.toUpperCase()), el('code', { class: 'path' }, path),
      el('span', { class: 'summary' }, op.summary)),
    authLine(op),
    el('details', null, el('summary', null, 'Details: parameters, body, responses'),
      op.description ? prose(op.description) : null,
      parametersTable(op.parameters || []),
      body ? [el('h4', null, 'Request body', body.required ? ' (required)' : ''), body.description ? prose(body.description) : null,
        mediaBlocks(body.content)] : null,
      el('h4', null, 'Responses'),
      responseBlocks(op.responses)));
  return article;
}

function render() {
  document.title = `${DOC.info.title} ${DOC.info.version} · API reference`;
  document.getElementById('title').textContent = `${DOC.info.title} ${DOC.info.version}`;
  const intro = document.getElementById('intro');
  if (DOC.info.summary) intro.append(el('p', null, el('strong', null, DOC.info.summary)));
  intro.append(prose(DOC.info.description), el('p', { class: 'hint' }, `OpenAPI ${DOC.openapi} · `,
    el('a', { href: '/openapi.json' }, 'download the document')));

  const byTag = new Map((DOC.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
  for (const [path, item] of Object.entries(DOC.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const name = (op.tags || ['Other'])[0];
      if (!byTag.has(name)) byTag.set(name, { tag: { name }, ops: [] });
      byTag.get(name).ops.push([path, method, op]);
    }
  }
  const ops = document.getElementById('operations');
  const toc = document.getElementById('toc-list');
  for (const { tag, ops: list } of byTag.values()) {
    if (!list.length) continue;
    const sid = `tag-${slug(tag.name)}`;
    ops.append(el('section', { id: sid, class: 'tag', 'aria-labelledby': `${sid}-h` },
      el('h2', { id: `${sid}-h` }, tag.name), tag.description ? prose(tag.description) : null,
      list.map(([p, m, o]) => operationArticle(p, m, o))));
    toc.append(el('li', { class: 'toc-tag', 'data-tag': sid }, el('a', { href: `#${sid}` }, tag.name),
      el('ul', null, list.map(([p, m, o]) => el('li', { 'data-op': `op-${o.operationId}` },
        el('a', { href: `#op-${o.operationId}` }, el('span', { class: `method ${m}` }, m.toUpperCase()), el('span', { class: 'path' }, p)))))));
  }
  const schemas = document.getElementById('schema-list');
  for (const [name, schema] of Object.entries(DOC.components?.schemas || {})) {
    schemas.append(el('div', { class: 'schema-def', id: `schema-${slug(name)}` }, el('h3', null, name), schema.description ? prose(schema.description) : null,
      el('div', null, schemaTree({ ...schema, description: undefined }))));
  }
  document.getElementById('schemas').hidden = false;
  document.getElementById('expand-bar').hidden = false;
  toc.append(el('li', { class: 'toc-tag' }, el('a', { href: '#schemas' }, 'Schemas')));
}

function applyFilter() {
  const words = document.getElementById('filter').value.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  let total = 0;
  for (const article of document.querySelectorAll('article.op')) {
    const hit = words.every((w) => article.dataset.search.includes(w));
    article.hidden = !hit;
    document.querySelector(`[data-op="${article.id}"]`).hidden = !hit;
    total += 1;
    shown += hit ? 1 : 0;
  }
  for (const section of document.querySelectorAll('section.tag')) {
    const any = section.querySelector('article.op:not([hidden])') !== null;
    section.hidden = !any;
    document.querySelector(`[data-tag="${section.id}"]`).hidden = !any;
  }
  document.getElementById('filter-count').textContent = words.length ? `${shown} of ${total} routes match.` : '';
}

function wire() {
  document.getElementById('filter').addEventListener('input', applyFilter);
  const button = document.getElementById('expand-all');
  button.addEventListener('click', () => {
    const open = button.getAttribute('aria-pressed') !== 'true';
    for (const d of document.querySelectorAll('article.op > details')) d.open = open;
    button.setAttribute('aria-pressed', String(open));
    button.textContent = open ? 'Collapse all' : 'Expand all';
  });
  // A link to an operation (#op-...) opens its details.
  const openTarget = () => {
    const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    const details = target && target.matches('article.op') && target.querySelector('details');
    if (details) details.open = true;
  };
  window.addEventListener('hashchange', openTarget);
  openTarget();
  if (location.hash) document.getElementById(decodeURIComponent(location.hash.slice(1)))?.scrollIntoView();
}

async function main() {
  const status = document.getElementById('load-status');
  try {
    const response = await fetch('/openapi.json', { headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    DOC = await response.json();
    render();
    wire();
    status.textContent = `${document.querySelectorAll('article.op').length} routes.`;
    status.className = 'hint';
  } catch (e) {
    status.textContent = `Could not load /openapi.json: ${e.message}`;
    status.className = 'error';
    status.setAttribute('role', 'alert');
  }
}

main();
