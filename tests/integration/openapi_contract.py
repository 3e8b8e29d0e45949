"""web/openapi.json as a checker of the responses the integration suite receives.

`support.Server.request` (and `RawConn.read_response`) hand every response they shape-check to
`record()`: one tuple, no work. `conftest.py` calls `take_problems()` when a test module ends, which
checks that module's responses against the document and fails the module on any disagreement:
- a path the document lists, with a method it lists: the status must be one of the operation's
  responses, the Content-Type one of that response's media types, and a JSON body valid against
  its schema (a header the response marks `required` must be there);
- a path the document lists, with a method it does not list: 405 `METHOD_NOT_ALLOWED` with an
  `Allow` header naming exactly the document's methods of that path (or 400 for bad framing);
- a path the document does not list: 404 `NOT_FOUND` (or 400 for bad framing).
Schemas are compiled once per (route, method, status, media type), with their `$ref`s inlined, so
that tens of thousands of responses take seconds.
"""
from __future__ import annotations

import importlib.util
import json
import re
import threading
import time
from pathlib import Path

DOC_PATH = Path(__file__).resolve().parents[2] / "web" / "openapi.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Set by tests/integration/conftest.py: other suites that import support.py (tests/chaos) keep
# nothing, since nothing there would check and forget what they keep.
ENABLED = False
_records: list[tuple] = []
_lock = threading.Lock()
STATS = {"responses": 0, "seconds": 0.0}  # over the session, for the terminal summary


def record(method: str, path: str, status: int, headers, body_json, has_json: bool):
    """Keeps one response for the check at the end of its test module (cheap: no parsing here)."""
    if not ENABLED:
        return
    with _lock:
        _records.append((method.upper(), path, status, headers, body_json, has_json))


def _header(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def resolve(doc: dict, ref: str):
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def inline_refs(doc: dict, node, depth=0):
    """`node` with every `$ref` replaced by what it points to (the document has no recursive schema;
    a `$ref` with siblings becomes an `allOf` beside them)."""
    assert depth < 64, "recursive $ref"
    if isinstance(node, list):
        return [inline_refs(doc, x, depth + 1) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: inline_refs(doc, v, depth + 1) for k, v in node.items() if k != "$ref"}
    if "$ref" in node:
        target = inline_refs(doc, resolve(doc, node["$ref"]), depth + 1)
        if not out:
            return target
        out["allOf"] = [target] + out.get("allOf", [])
    return out


class Contract:
    """The document's routes and compiled response schemas."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.routes = []  # (regex, template, {METHOD: operation}), literal paths first
        for template, item in doc["paths"].items():
            regex = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")
            ops = {m.upper(): op for m, op in item.items() if m in METHODS}
            self.routes.append((regex, template, ops))
        self.routes.sort(key=lambda r: r[1].count("{"))
        self._validators: dict[tuple, object] = {}

    @classmethod
    def load(cls, path: Path = DOC_PATH) -> "Contract":
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def route(self, path: str):
        """(template, operations) of the route that serves `path` (no query), or None."""
        for regex, template, ops in self.routes:
            if regex.match(path):
                return template, ops
        return None

    def response(self, ref_or_response: dict) -> dict:
        while "$ref" in ref_or_response:
            ref_or_response = resolve(self.doc, ref_or_response["$ref"])
        return ref_or_response

    def validator(self, key: tuple, schema: dict):
        v = self._validators.get(key)
        if v is None:
            from jsonschema import Draft202012Validator, FormatChecker
            v = Draft202012Validator(inline_refs(self.doc, schema), format_checker=FormatChecker())
            self._validators[key] = v
        return v

    def check(self, method, path, status, headers, body, has_json) -> str | None:
        """What is wrong with one response according to the document, or None."""
        path = path.split("?", 1)[0]
        found = self.route(path)
        components = self.doc["components"]["responses"]
        if found is None:
            if status not in (400, 404):
                return f"a path the document does not list must answer 404 (or 400 for bad framing), got {status}"
            return self._check_response(("?", method, status), components["NotFound" if status == 404 else "BadFraming"],
                                         method, headers, body, has_json)
        template, ops = found
        if method not in ops:
            if status == 400:
                return self._check_response((template, "?", 400), components["BadFraming"], method, headers, body, has_json)
            if status != 405:
                return (f"{method} is not documented for {template} (it has {', '.join(sorted(ops))}): "
                        f"the server must answer 405, got {status}")
            allow = {m.strip() for m in (_header(headers, "Allow") or "").split(",") if m.strip()}
            if allow != set(ops):
                return f"405 Allow {sorted(allow)} != the document's methods of {template} {sorted(ops)}"
            return self._check_response((template, "?", 405), components["MethodNotAllowed"], method, headers, body,
                                        has_json)
        responses = ops[method]["responses"]
        documented = responses.get(str(status)) or responses.get(f"{status // 100}XX") or responses.get("default")
        if documented is None:
            return (f"status {status} is not documented for {method} {template} "
                    f"(documented: {', '.join(sorted(responses))})")
        return self._check_response((template, method, status), documented, method, headers, body, has_json)

    def _check_response(self, key, documented, method, headers, body, has_json) -> str | None:
        documented = self.response(documented)
        for name, header in documented.get("headers", {}).items():
            if self.response(header).get("required") and _header(headers, name) is None:
                return f"the {name} header is required and missing"
        content = documented.get("content")
        if not content:
            return None
        content_type = (_header(headers, "Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type not in content:
            return f"Content-Type {content_type!r} is not documented (documented: {', '.join(content)})"
        if method == "HEAD" or content_type != "application/json" or _header(headers, "Content-Encoding"):
            return None
        if not has_json:
            return "the body is not JSON"
        schema = content[content_type].get("schema")
        if schema is None:
            return None
        error = next(iter(self.validator(key + (content_type,), schema).iter_errors(body)), None)
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path) or "(the body)"
        return f"the body does not match the schema at {where}: {error.message[:300]}"


_contract: Contract | None = None


def contract() -> Contract:
    global _contract
    if _contract is None:
        _contract = Contract.load()
    return _contract


def take_problems(limit=40) -> list[str]:
    """Checks and forgets every response recorded so far; the problems, at most one per kind of
    response (method, path, status), at most `limit` of them."""
    with _lock:
        records = list(_records)
        _records.clear()
    if not records:
        return []
    started = time.monotonic()
    if importlib.util.find_spec("jsonschema") is None:
        return ["python3-jsonschema is not installed: run scripts/install-deps.sh"]
    c = contract()
    problems: dict[tuple, str] = {}
    for method, path, status, headers, body, has_json in records:
        problem = c.check(method, path, status, headers, body, has_json)
        if problem is not None:
            found = c.route(path.split("?", 1)[0])
            kind = (method, found[0] if found else path, status)
            if kind not in problems:
                text = json.dumps(body, ensure_ascii=False) if has_json else "(no JSON body)"
                problems[kind] = f"{method} {path} -> {status}: {problem}\n    body: {text[:500]}"
    STATS["responses"] += len(records)
    STATS["seconds"] += time.monotonic() - started
    return list(problems.values())[:limit]
