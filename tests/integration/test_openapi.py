"""web/openapi.json: a valid OpenAPI 3.1 document, served at /openapi.json and rendered at /docs,
that lists exactly the server's routes; and its checker (openapi_contract.py), which every test
module's responses go through when the module ends (conftest.py)."""
import json
import re
import urllib.parse

import pytest
from jsonschema import Draft202012Validator, FormatChecker

import openapi_contract
from openapi_contract import METHODS, Contract, inline_refs, resolve
from support import (ADMIN_KEY, REPO, active_user, create_concert, expect, must_charge, must_hold, pay,
                     record_for_openapi, user_path)

DOC = json.loads(openapi_contract.DOC_PATH.read_text(encoding="utf-8"))

# ---------------------------------------------------------------------------------------------
# The document itself
# ---------------------------------------------------------------------------------------------
# The OpenAPI 3.1 objects this document uses, in their essentials (no openapi-spec-validator in
# Debian 12): the fields each object may have (so that a misspelt one fails), the required ones
# and their types. Schemas themselves are checked against JSON Schema 2020-12's metaschema below.
_EXT = {"^x-": True}
_REF = {"type": "object", "required": ["$ref"], "properties": {"$ref": {"type": "string"}, "summary": {"type": "string"},
                                                                "description": {"type": "string"}},
        "additionalProperties": False}
_EXAMPLES = {"type": "object", "additionalProperties": {
    "anyOf": [_REF, {"type": "object", "properties": {"summary": {"type": "string"}, "description": {"type": "string"},
                                                      "value": True},
                     "required": ["value"], "additionalProperties": False}]}}
_MEDIA = {"type": "object", "properties": {"schema": {"type": ["object", "boolean"]}, "example": True,
                                           "examples": _EXAMPLES},
          "not": {"required": ["example", "examples"]}, "additionalProperties": False}
_CONTENT = {"type": "object", "minProperties": 1, "propertyNames": {"pattern": r"^[a-z]+/[a-z0-9.+-]+$"},
            "additionalProperties": _MEDIA}
_HEADER = {"type": "object", "properties": {"description": {"type": "string"}, "required": {"type": "boolean"},
                                            "schema": {"type": "object"}},
           "required": ["schema"], "additionalProperties": False}
_PARAMETER = {"type": "object", "required": ["name", "in", "schema"],
              "properties": {"name": {"type": "string", "minLength": 1},
                             "in": {"enum": ["query", "header", "path", "cookie"]},
                             "description": {"type": "string"}, "required": {"type": "boolean"},
                             "schema": {"type": "object"}, "example": True},
              "if": {"properties": {"in": {"const": "path"}}}, "then": {"required": ["required"],
                                                                      "properties": {"required": {"const": True}}},
              "additionalProperties": False}
_RESPONSE = {"type": "object", "required": ["description"],
             "properties": {"description": {"type": "string", "minLength": 1},
                            "headers": {"type": "object", "additionalProperties": {"anyOf": [_REF, _HEADER]}},
                            "content": _CONTENT},
             "additionalProperties": False}
_OPERATION = {"type": "object", "required": ["operationId", "summary", "tags", "responses"],
              "properties": {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                             "summary": {"type": "string", "minLength": 1}, "description": {"type": "string"},
                             "operationId": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9]*$"},
                             "parameters": {"type": "array", "items": {"anyOf": [_REF, _PARAMETER]}},
                             "requestBody": {"type": "object", "required": ["content"],
                                             "properties": {"description": {"type": "string"},
                                                            "required": {"type": "boolean"}, "content": _CONTENT},
                                             "additionalProperties": False},
                             "responses": {"type": "object", "minProperties": 1,
                                           "propertyNames": {"pattern": "^([1-5](?:[0-9]{2}|XX)|default)$"},
                                           "additionalProperties": {"anyOf": [_REF, _RESPONSE]}},
                             "security": {"type": "array", "items": {"type": "object", "additionalProperties": {
                                 "type": "array", "items": {"type": "string"}}}}},
              "additionalProperties": False}
OPENAPI_31_ESSENTIALS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object", "required": ["openapi", "info", "paths"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.1\.\d+$"},
        "info": {"type": "object", "required": ["title", "version"],
                 "properties": {"title": {"type": "string"}, "version": {"type": "string"},
                                "summary": {"type": "string"}, "description": {"type": "string"}},
                 "additionalProperties": False},
        "servers": {"type": "array", "items": {"type": "object", "required": ["url"]}},
        "tags": {"type": "array", "items": {"type": "object", "required": ["name"],
                                            "properties": {"name": {"type": "string"},
                                                           "description": {"type": "string"}},
                                            "additionalProperties": False}},
        "paths": {"type": "object", "propertyNames": {"pattern": "^/"},
                  "additionalProperties": {"type": "object", "minProperties": 1, "propertyNames": {"enum": list(METHODS)},
                                           "additionalProperties": _OPERATION}},
        "components": {"type": "object",
                       "properties": {"schemas": {"type": "object"},
                                      "responses": {"type": "object", "additionalProperties": _RESPONSE},
                                      "parameters": {"type": "object", "additionalProperties": _PARAMETER},
                                      "examples": _EXAMPLES,
                                      "securitySchemes": {"type": "object", "additionalProperties": {
                                          "type": "object", "required": ["type"],
                                          "properties": {"type": {"enum": ["apiKey", "http", "mutualTLS", "oauth2",
                                                                           "openIdConnect"]}}}}},
                       "propertyNames": {"enum": ["schemas", "responses", "parameters", "examples", "requestBodies",
                                                  "headers", "securitySchemes", "links", "callbacks", "pathItems"]},
                       "additionalProperties": {"type": "object",
                                                "propertyNames": {"pattern": "^[a-zA-Z0-9._-]+$"}}},
    },
    "patternProperties": _EXT,
    "additionalProperties": False,
}


def operations(doc=DOC):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method, op


def walk(node, where="#"):
    """Every (JSON pointer, dict) in the document."""
    if isinstance(node, dict):
        yield where, node
        for k, v in node.items():
            yield from walk(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{where}/{i}")


def schema_objects(doc=DOC):
    """(where, schema) of every Schema Object: components', and those of parameters, headers and
    media types."""
    for name, schema in doc["components"]["schemas"].items():
        yield f"#/components/schemas/{name}", schema
    for where, node in walk(doc):
        if "/components/schemas/" in where:
            continue
        if "schema" in node and isinstance(node["schema"], dict) and ("/content/" in where or "in" in node
                                                                      or "/headers/" in where):
            yield where + "/schema", node["schema"]


def test_the_document_is_openapi_3_1():
    errors = sorted(Draft202012Validator(OPENAPI_31_ESSENTIALS).iter_errors(DOC), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:20])


def test_every_ref_resolves_and_every_component_is_used():
    refs = {node["$ref"] for _, node in walk(DOC) if isinstance(node.get("$ref"), str)}
    for ref in sorted(refs):
        try:
            resolve(DOC, ref)
        except (KeyError, AssertionError) as e:
            pytest.fail(f"$ref {ref} does not resolve: {e!r}")
    # A component nobody refers to is stale (the 405 answer is referred to by info's text and the
    # checker, which both read it).
    used = refs | {"#/components/responses/MethodNotAllowed"}
    for kind in ("schemas", "responses", "parameters", "examples"):
        for name in DOC["components"][kind]:
            assert f"#/components/{kind}/{name}" in used, f"components/{kind}/{name} is not used"


def test_operations_are_complete():
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids)), "operationIds are unique"
    tags = {t["name"] for t in DOC["tags"]}
    schemes = set(DOC["components"]["securitySchemes"])
    for path, method, op in operations():
        where = f"{method.upper()} {path}"
        assert set(op["tags"]) <= tags, f"{where}: a tag not in the top-level tags"
        assert "security" in op, f"{where}: say who may call it ([{{}}] for anyone)"
        for requirement in op["security"]:
            assert set(requirement) <= schemes, f"{where}: unknown security scheme {requirement}"
        params = [p if "$ref" not in p else resolve(DOC, p["$ref"]) for p in op.get("parameters", [])]
        declared = {p["name"] for p in params if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), f"{where}: path parameters {declared}"
        statuses = set(op["responses"])
        assert any(s.startswith("2") for s in statuses), f"{where}: no success response"
        assert {"400", "413"} <= statuses, f"{where}: every route may answer bad framing (400) and 413"
        if path.startswith("/api/"):
            assert "503" in statuses, f"{where}: an /api/ route answers 503 when storage is unreachable"
        if op["security"] != [{}] and {"queueToken": []} in op["security"]:
            assert "401" in statuses, f"{where}: a token route answers 401"
        for status, response in op["responses"].items():
            response = resolve(DOC, response["$ref"]) if "$ref" in response else response
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                codes = error_codes(schema)
                assert codes or path == "/readyz", f"{where} {status}: an error response names its codes"
                for code in codes:
                    assert error_status(code) == int(status), f"{where} {status}: {code} is HTTP {error_status(code)}"


def error_codes(schema) -> list[str]:
    """The `code`s an error response's schema admits (oneOf of the per-code error schemas)."""
    branches = schema.get("oneOf", [schema])
    codes = []
    for b in branches:
        target = resolve(DOC, b["$ref"]) if "$ref" in b else b
        code = target.get("properties", {}).get("code", {}).get("const")
        if code:
            codes.append(code)
    return codes


def error_status(code: str) -> int:
    return int(re.match(r"HTTP (\d{3})", DOC["components"]["schemas"][code_schema(code)]["description"]).group(1))


def code_schema(code: str) -> str:
    return "".join(p.capitalize() for p in code.split("_")) + "Error"


def test_the_error_catalogue_is_the_servers():
    """Every code of src/domain/names.cpp (`code_name`) has its error schema, with the status
    `status_of` gives it in src/http/codec.cpp."""
    code_of = dict(re.findall(r'case ErrorCode::(\w+):\s*return "([A-Z_]+)";',
                              (REPO / "src/domain/names.cpp").read_text()))
    assert {"ServiceUnavailable", "SeatLocked"} <= set(code_of), "the code_name switch was found"
    assert set(code_of.values()) == set(DOC["components"]["schemas"]["Error"]["properties"]["code"]["enum"])
    codec = (REPO / "src/http/codec.cpp").read_text()
    body = codec[codec.index("int status_of"):codec.index("return 500;")]
    pending, status_by_code = [], {}
    for name, status in re.findall(r"case ErrorCode::(\w+):|return (\d{3});", body):
        if name:
            pending.append(code_of[name])
        else:
            status_by_code.update({code: int(status) for code in pending})
            pending = []
    assert set(status_by_code) == set(code_of.values())
    for code, status in status_by_code.items():
        assert error_status(code) == status, f"{code}: the document says {error_status(code)}, codec.cpp {status}"


def test_schemas_are_valid_json_schema_2020_12():
    count = 0
    for where, schema in schema_objects():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as e:  # noqa: BLE001 - the message names the fault
            pytest.fail(f"{where}: {e}")
        count += 1
    assert count > 50


def test_every_example_matches_its_schema():
    checked = 0
    for where, node in walk(DOC):
        if "schema" not in node or not isinstance(node["schema"], dict):
            continue
        examples = []
        if "example" in node:
            examples.append(("example", node["example"]))
        for name, ex in node.get("examples", {}).items() if isinstance(node.get("examples"), dict) else []:
            ex = resolve(DOC, ex["$ref"]) if "$ref" in ex else ex
            examples.append((name, ex["value"]))
        validator = Draft202012Validator(inline_refs(DOC, node["schema"]), format_checker=FormatChecker())
        for name, value in examples:
            errors = list(validator.iter_errors(value))
            assert not errors, f"{where} example {name}: {errors[0].message[:300]}"
            checked += 1
    assert checked > 40


# ---------------------------------------------------------------------------------------------
# The document against the server's router
# ---------------------------------------------------------------------------------------------
ROUTER_ADD = re.compile(r'router\.add\(\s*(?:"([A-Z]+)"|\w+)\s*,\s*"([^"]+)"')
SAMPLE = {"concertId": "1", "userId": "user-1", "reservationId": "res-1", "name": "app.js"}


def source_paths() -> set[str]:
    """The path of every `router.add(` in src/: its second argument, a literal in every call (a
    call whose path is not a literal fails here, instead of escaping the comparison)."""
    paths = set()
    for f in sorted((REPO / "src").rglob("*.cpp")):
        text = f.read_text(encoding="utf-8")
        calls = text.count("router.add(")
        found = ROUTER_ADD.findall(text)
        assert len(found) == calls, f"{f}: a router.add( whose path is not a string literal"
        paths |= {p for _, p in found}
    assert len(paths) >= 15, paths
    return paths


def concrete(template: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: SAMPLE[m.group(1)], template)


def server_methods(server, template: str) -> set[str]:
    """The methods the running server routes for `template`, from the `Allow` of its 405 to a
    method no route has (the route is matched before any handler runs, whatever the parameters)."""
    r = server.request("PATCH", concrete(template))
    assert r.status == 405, f"the server does not route {template} (PATCH answered {r.status}): is build/ current?"
    return {m.strip() for m in r.header("Allow").split(",")}


def test_the_document_lists_exactly_the_servers_routes(server):
    """Both ways. The paths come from the source's `router.add(` calls, because only the source can
    name a route the document forgot; the methods of each come from the running server (405 Allow),
    so that a loop such as the pages' `for (method : {"GET", "HEAD"})` needs no parsing and the
    binary is checked, not only the source. A path the document lists that no router.add names,
    or that the server does not route, fails too."""
    documented = {(path, m.upper()) for path, m, _ in operations()}
    routed = set()
    for template in sorted(source_paths()):
        routed |= {(template, m) for m in server_methods(server, template)}
    for template in {p for p, _ in documented} - {p for p, _ in routed}:
        routed |= {(template, m) for m in server_methods(server, template)}
    missing = sorted(routed - documented)
    extra = sorted(documented - routed)
    assert not missing, f"routes the server has and web/openapi.json does not: {missing}"
    assert not extra, f"operations web/openapi.json documents and the server does not route: {extra}"


def test_an_unknown_path_is_404(server):
    for path in ("/api/nope", "/docs/", "/openapi.json/x", "/api/concerts/1/seats/2"):
        expect(server.get(path), 404, "NOT_FOUND")


# ---------------------------------------------------------------------------------------------
# Served at /openapi.json and rendered at /docs
# ---------------------------------------------------------------------------------------------
def test_the_document_is_served_at_openapi_json(server):
    r = server.get("/openapi.json")
    assert r.status == 200 and r.header("Content-Type") == "application/json"
    assert r.json == DOC, "the binary serves web/openapi.json as it is in the tree (rebuild?)"
    etag = r.header("ETag")
    assert server.get("/openapi.json", headers={"If-None-Match": etag}).status == 304
    head = server.request("HEAD", "/openapi.json")
    assert head.status == 200 and head.body == b"" and head.header("Content-Length") == r.header("Content-Length")


def test_the_reference_page_is_served_at_docs_and_is_small(server):
    r = server.get("/docs")
    assert r.status == 200 and r.header("Content-Type") == "text/html; charset=utf-8"
    html = r.body.decode("utf-8")
    assert re.search(r'<html lang="[a-z]{2}"', html) and "<title>" in html
    files = sorted(set(re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)))
    assert "/assets/docs.js" in files and "/assets/docs.css" in files
    total = len(r.body)
    for f in files:
        asset = server.get(f)
        assert asset.status == 200, f
        total += len(asset.body)
    assert total < 30 * 1024, f"the reference page is {total} bytes uncompressed"
    assert server.request("HEAD", "/docs").status == 200


# ---------------------------------------------------------------------------------------------
# The checker
# ---------------------------------------------------------------------------------------------
def check(method, path, status, body=None, content_type="application/json", headers=()):
    hdrs = [("Content-Type", content_type), *headers]
    return Contract(DOC).check(method, path, status, hdrs, body, body is not None)


def test_the_checker_accepts_what_the_document_says():
    assert check("GET", "/healthz", 200, {"status": "ok"}) is None
    assert check("GET", "/api/users/u-1/balance?x=1", 200, {"userId": "u-1", "balance": 0, "lastUpdated": None}) is None
    assert check("PUT", "/healthz", 405, {"error": "x", "code": "METHOD_NOT_ALLOWED"}, headers=[("Allow", "GET")]) is None
    assert check("GET", "/nowhere", 404, {"error": "x", "code": "NOT_FOUND"}) is None
    assert check("GET", "/metrics", 200, None, "text/plain; version=0.0.4; charset=utf-8") is None
    assert check("GET", "/assets/x.svg", 200, None, "image/svg+xml") is None
    assert check("POST", "/api/reservations", 403, {"error": "x", "code": "TOKEN_NOT_ACTIVE", "position": 3}) is None


@pytest.mark.parametrize("args, complaint", [
    (("GET", "/healthz", 201, {"status": "ok"}), "status 201 is not documented"),
    (("GET", "/healthz", 200, {"status": "fine"}), "does not match the schema"),
    (("GET", "/api/users/u-1/balance", 200, {"userId": "u-1", "balance": 0}), "'lastUpdated' is a required property"),
    (("POST", "/api/reservations", 403, {"error": "x", "code": "TOKEN_NOT_ACTIVE"}), "does not match"),
    (("POST", "/api/reservations", 409, {"error": "x", "code": "INVALID_TOKEN"}), "does not match"),
    (("GET", "/healthz", 200, {"status": "ok"}, "text/html"), "Content-Type 'text/html' is not documented"),
    (("PUT", "/healthz", 404, {"error": "x", "code": "NOT_FOUND"}), "must answer 405"),
    (("PUT", "/healthz", 405, {"error": "x", "code": "METHOD_NOT_ALLOWED"}, "application/json", [("Allow", "GET, PUT")]),
     "Allow"),
    (("PUT", "/healthz", 405, {"error": "x", "code": "METHOD_NOT_ALLOWED"}), "Allow"),
    (("GET", "/nowhere", 200, {}), "must answer 404"),
])
def test_the_checker_refuses_what_the_document_does_not_say(args, complaint):
    problem = check(*args)
    assert problem is not None and complaint in problem, problem


# ---------------------------------------------------------------------------------------------
# Every operation once (its responses are checked when this module ends, as every module's are)
# ---------------------------------------------------------------------------------------------
def test_every_operation_answers_as_documented(server):
    before = len(openapi_contract._records)
    admin = {"X-Admin-Key": ADMIN_KEY}
    user, token = active_user(server, "oa")
    cid = create_concert(server, seat_count=3, price=20000)
    expect(server.get("/api/queue/status", token=token), 200, status="active")
    expect(server.post("/api/queue/token", {"userId": user}), 200, token=token)
    expect(server.get("/api/concerts/available-dates"), 200)
    expect(server.get(f"/api/concerts/{cid}/seats"), 200)
    held = must_hold(server, token, cid, 1)
    rid = urllib.parse.quote(held["reservationId"], safe="")
    expect(server.get(f"/api/reservations/{rid}", token=token), 200, status="TEMPORARILY_ASSIGNED")
    must_charge(server, user, token, 50000)
    expect(server.get(f"/api/users/{user_path(user)}/balance"), 200, balance=50000)
    other = must_hold(server, token, cid, 2)
    expect(server.delete(f"/api/reservations/{urllib.parse.quote(other['reservationId'], safe='')}", token=token), 200)
    expect(pay(server, token, held["reservationId"]), 200, status="CONFIRMED")
    expect(server.get("/api/admin/sales", headers=admin), 200)
    expect(server.get("/api/admin/queue", headers=admin), 200)
    expect(server.post("/api/admin/queue", {"paused": False}, headers=admin), 200, paused=False)
    for path in ("/healthz", "/readyz", "/metrics"):
        assert server.get(path).status == 200
    for path in ("/", "/admin", "/docs", "/openapi.json", "/assets/docs.js"):
        assert server.get(path).status == 200
        assert server.request("HEAD", path).status == 200
    # a few errors of each kind
    expect(server.get("/api/queue/status"), 401, "MISSING_TOKEN")
    expect(server.get("/api/concerts/0/seats"), 400, "INVALID_REQUEST")
    expect(server.get("/api/concerts/999999/seats"), 404, "CONCERT_NOT_FOUND")
    expect(server.post("/api/reservations", {"concertId": cid, "seatNumber": 1}, token=token), 401, "INVALID_TOKEN")
    expect(server.post("/api/admin/concerts", {}, headers={"X-Admin-Key": "wrong"}), 401, "ADMIN_KEY_REQUIRED")
    expect(server.post("/api/admin/queue", {"maxActive": 0}, headers=admin), 400, "INVALID_REQUEST")
    head = server.request("HEAD", "/api/admin/sales", check=False)  # no body to shape-check
    assert head.status == 405 and head.header("Allow") == "GET"
    record_for_openapi(head)
    expect(server.request("DELETE", "/openapi.json"), 405)
    recorded = {(m, (openapi_contract.contract().route(p.split("?")[0]) or ("?",))[0])
                for m, p, *_ in openapi_contract._records[before:]}
    assert {(m.upper(), p) for p, m, _ in operations()} <= recorded, "every operation was called once"
