#!/usr/bin/env python3
"""Check live answers of core-rd's HTTP listener against docs/openapi.yaml.

Usage: validate.py OPENAPI_YAML PORT [TOKEN]

Every request below goes to 127.0.0.1:PORT. Each answer's status must be documented for its
path, its Content-Type must be the documented one and its JSON body must validate against the
documented schema (schemas say additionalProperties: false, so a field the document does not
know fails too). Events of /api/events are validated against the schema of their event name
(x-events). Every path of the document must have been answered with a success, and every
event type but `error` seen. With TOKEN, requests carry it, and each path that documents 401
is also asked without it and must answer 401 with WWW-Authenticate: Bearer.
Prints one line per failure and 'api: N passed, M failed'; exits 1 on any failure.
"""
import json
import re
import socket
import sys
import time

import jsonschema
import yaml

DOC_PATH, PORT = sys.argv[1], int(sys.argv[2])
TOKEN = sys.argv[3] if len(sys.argv) > 3 else None
with open(DOC_PATH, "rb") as f:
    DOC_BYTES = f.read()
DOC = yaml.safe_load(DOC_BYTES)
passed = 0
failed = 0
answered = set()  # document paths answered with a 2xx
events_seen = set()


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}{': ' + detail if detail else ''}")


def resolve(node):
    """The node with every $ref replaced by what it names (the document has no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = DOC
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return resolve({**target, **rest})
        return {k: resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v) for v in node]
    return node


def validate(what, schema, value):
    try:
        jsonschema.Draft202012Validator(schema).validate(value)
        check(what, True)
    except jsonschema.ValidationError as e:
        check(what, False, f"{e.message} at {list(e.absolute_path)}")


def request(path, token=None, headers=(), wait=5.0, until=None):
    """One HTTP/1.0 GET; returns (status, headers dict, body bytes). With until, reads until
    until(body) is true or wait seconds passed (a stream that does not end by itself)."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=wait)
    lines = [f"GET {path} HTTP/1.0", "Host: 127.0.0.1"] + list(headers)
    if token:
        lines.append(f"Authorization: Bearer {token}")
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if until and _ and until(body):
            break
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *hlines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for h in hlines:
        k, _, v = h.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(status_line.split()[1]), hdrs, body


def template_of(path):
    """The document's path template that @p path (without its query) falls under."""
    bare = path.split("?")[0].split("/")
    for t in DOC["paths"]:
        parts = t.split("/")
        if len(parts) == len(bare) and all(p == b or (p.startswith("{") and b)
                                           for p, b in zip(parts, bare)):
            return t
    return None


def answer_spec(path, status):
    t = template_of(path)
    if t is None:
        check(f"{path}: in the document", False)
        return None
    responses = DOC["paths"][t]["get"]["responses"]
    spec = responses.get(str(status))
    check(f"{path}: status {status} documented", spec is not None, f"documented: {list(responses)}")
    if spec is None:
        return None
    if 200 <= status < 300:
        answered.add(t)
    return resolve(spec)


def ask(path, expect, token=TOKEN, headers=()):
    """GET path, expect that status, and check the answer against the document."""
    status, hdrs, body = request(path, token, headers)
    check(f"{path}: status", status == expect, f"expected {expect}, got {status}: {body[:200]!r}")
    spec = answer_spec(path, status)
    if spec is None:
        return None
    (ctype, media), = spec["content"].items()
    got = hdrs.get("content-type", "").split(";")[0]
    check(f"{path}: Content-Type", got == ctype, f"expected {ctype}, got {got}")
    if ctype != "application/json":
        return body
    try:
        value = json.loads(body)
    except ValueError:
        check(f"{path}: JSON body", False, repr(body[:200]))
        return None
    validate(f"{path}: body", media["schema"], value)
    return value


def events(path, want):
    """Follow the feed at path until every event name in want was seen (10 s at most);
    validate each event's data against the schema of its name."""
    kinds = resolve(DOC["paths"]["/api/events"]["get"]["responses"]["200"]["content"]
                    ["text/event-stream"]["x-events"])

    def enough(body):
        return all(f"event: {w}\n".encode() in body for w in want)

    status, hdrs, body = request(path, TOKEN, wait=10, until=enough)
    check(f"{path}: status", status == 200, str(status))
    spec = answer_spec(path, status)
    if spec is None:
        return
    check(f"{path}: Content-Type", hdrs.get("content-type") == "text/event-stream",
          hdrs.get("content-type", ""))
    text = body.decode()
    check(f"{path}: greeting comment first", text.startswith(": core-rd change feed, last event"))
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if line and
                      not line.startswith(":"))
        if not fields:
            continue
        kind = fields.get("event")
        check(f"{path}: event type {kind} documented", kind in kinds)
        check(f"{path}: event {kind} has an id", fields.get("id", "").isdigit())
        if kind in kinds:
            events_seen.add(kind)
            validate(f"{path}: {kind} data", kinds[kind], json.loads(fields["data"]))
    for w in want:
        check(f"{path}: a {w} event came", w in events_seen)


for name, schema in DOC["components"]["schemas"].items():
    try:
        jsonschema.Draft202012Validator.check_schema(resolve(schema))
        check(f"schema {name} is valid JSON Schema", True)
    except jsonschema.SchemaError as e:
        check(f"schema {name} is valid JSON Schema", False, e.message)

page = ask("/api/endpoints", 200)
ask("/api/endpoints?et=oic.d.sensor&count=1&page=0", 200)
ask("/api/endpoints?d=floor*&count=1&page=1", 200)
ask("/api/endpoints?page=1", 400)
ask("/api/endpoints?=x", 400)
ask("/api/resources", 200)
res = ask("/api/resources?rt=temp*", 200)
check("resource lookup filtered", res is not None and res["total"] >= 1 and
      all(["rt", "temp"] in r["attrs"] or any(a[0] == "rt" and a[1].startswith("temp")
                                               for a in r["attrs"]) for r in res["resources"]))
ask("/api/resources?count=x", 400)
if page and page["endpoints"]:
    one = ask("/api/endpoints" + page["endpoints"][0]["href"], 200)
    check("one registration is the listed one", one is not None and
          one["href"] == page["endpoints"][0]["href"])
else:
    check("a registration to ask for", False)
ask("/api/endpoints/rd/00000000", 404)
ask("/api/endpoints/rd/not-an-id", 404)
stats = ask("/api/stats", 200)
check("stats history is not empty", stats is not None and len(stats["history"]) >= 1)
doc = ask("/api/openapi.yaml", 200)
check("/api/openapi.yaml is this document", doc == DOC_BYTES)
ask("/health", 200)
ask("/metrics", 200)
status, hdrs, body = request("/api/nothing", TOKEN)
check("unknown API path: 404", status == 404, str(status))
validate("unknown API path: JSON error", resolve(DOC["components"]["schemas"]["Error"]),
         json.loads(body or b"null"))
events("/api/events?since=0", ["registered", "updated", "removed", "expired"])
events("/api/events?since=99999999", ["reset"])
ask("/api/events?count=1", 400)
ask("/api/events?since=abc", 400)

if TOKEN:
    for t, item in DOC["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "00000000", t)
        if "401" in item["get"]["responses"]:
            status, hdrs, body = request(concrete, None)
            check(f"{t}: 401 without a token", status == 401, str(status))
            check(f"{t}: WWW-Authenticate", hdrs.get("www-authenticate", "").startswith("Bearer"),
                  hdrs.get("www-authenticate", ""))
            validate(f"{t}: 401 body", resolve(item["get"]["responses"]["401"])["content"]
                     ["application/json"]["schema"], json.loads(body or b"null"))
            status, _, _ = request(concrete, "not-" + TOKEN)
            check(f"{t}: 401 with a wrong token", status == 401, str(status))
        else:
            status, _, _ = request(concrete, None)
            check(f"{t}: no token needed", status in (200, 503), str(status))

for t in DOC["paths"]:
    check(f"{t}: exercised with a success", t in answered)
kinds = DOC["paths"]["/api/events"]["get"]["responses"]["200"]["content"]["text/event-stream"]
for kind in kinds["x-events"]:
    if kind != "error":
        check(f"event {kind}: exercised", kind in events_seen)

print(f"api: {passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
