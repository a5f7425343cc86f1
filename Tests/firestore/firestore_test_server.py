"""A Firestore REST API v1 test server: the subset the booking service's gateway uses, with
Firestore's semantics. Test support only (there is no Google emulator on these machines); its
fidelity is checked against Google's own Python client in test_fidelity.py.

Implements, for top-level collections and subcollections: get, list (paging), createDocument,
patch, delete, commit (atomic, preconditions, transactions), beginTransaction, rollback,
batchGet, runQuery (structured queries), the
emulator's reset (DELETE /emulator/v1/projects/{p}/databases/{d}/documents), and errors in
Google's format. Test controls live under /_test/: injected faults, a journal of requests, and
an OAuth2 token endpoint that verifies service-account JWTs.

    python3 firestore_test_server.py --port 8085
"""

import argparse
import base64
import json
import re
import secrets
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

HTTP_CODES = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400, "UNAUTHENTICATED": 401,
              "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "ABORTED": 409,
              "RESOURCE_EXHAUSTED": 429, "INTERNAL": 500, "UNIMPLEMENTED": 501, "UNAVAILABLE": 503,
              "DEADLINE_EXCEEDED": 504}
GRPC_CODES = {"INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7,
              "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12,
              "INTERNAL": 13, "UNAVAILABLE": 14, "UNAUTHENTICATED": 16}
# Enums arrive as names, or as numbers from clients that ask for `enum-encoding=int`.
FIELD_OPS = ["OPERATOR_UNSPECIFIED", "LESS_THAN", "LESS_THAN_OR_EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "EQUAL",
             "NOT_EQUAL", "ARRAY_CONTAINS", "IN", "ARRAY_CONTAINS_ANY", "NOT_IN"]
COMPOSITE_OPS = ["OPERATOR_UNSPECIFIED", "AND", "OR"]
DIRECTIONS = ["DIRECTION_UNSPECIFIED", "ASCENDING", "DESCENDING"]
UNARY_OPS = {0: "OPERATOR_UNSPECIFIED", 2: "IS_NAN", 3: "IS_NULL", 4: "IS_NOT_NAN", 5: "IS_NOT_NULL"}
VALUE_KINDS = {"nullValue", "booleanValue", "integerValue", "doubleValue", "timestampValue", "stringValue",
               "bytesValue", "referenceValue", "geoPointValue", "arrayValue", "mapValue"}
MAX_ID_BYTES = 1500


class Failure(Exception):
    """An error answered in Google's format."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def enum(value, names):
    if isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    if isinstance(value, str) and value in names:
        return value
    raise Failure("INVALID_ARGUMENT", f"Invalid value: {value!r}")


def only_keys(obj, allowed, what):
    if not isinstance(obj, dict):
        raise Failure("INVALID_ARGUMENT", f"Invalid JSON payload received. {what} must be an object.")
    unknown = set(obj) - set(allowed)
    if unknown:
        raise Failure("INVALID_ARGUMENT", f'Invalid JSON payload received. Unknown name "{sorted(unknown)[0]}" at \'{what}\'.')


# ---- time -------------------------------------------------------------------------------

def rfc3339(micros):
    """Proto3 JSON's spelling: 0, 3 or 6 fractional digits, as needed."""
    seconds, fraction = divmod(micros, 1_000_000)
    text = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if fraction % 1000 == 0:
        return text + (f".{fraction // 1000:03d}" if fraction else "") + "Z"
    return text + f".{fraction:06d}Z"


def parse_time(text):
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", text or "")
    if not match:
        raise Failure("INVALID_ARGUMENT", f"Invalid timestamp: {text!r}")
    base = datetime.strptime(match.group(1) + (match.group(3) if match.group(3) != "Z" else "+00:00"), "%Y-%m-%dT%H:%M:%S%z")
    nanos = int((match.group(2) or "0").ljust(9, "0"))
    return int(base.timestamp()) * 1_000_000 + nanos // 1000


# ---- values -----------------------------------------------------------------------------

def canonical_value(value, where="value"):
    """Checks a Value and returns it in canonical proto3 JSON (integers as strings)."""
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in VALUE_KINDS:
        raise Failure("INVALID_ARGUMENT", f"Invalid value at '{where}': {json.dumps(value)[:80]}")
    kind, payload = next(iter(value.items()))
    if kind == "nullValue" and payload in (None, "NULL_VALUE", 0):
        return {"nullValue": None}
    if kind == "booleanValue" and isinstance(payload, bool):
        return value
    if kind == "integerValue" and (isinstance(payload, int) and not isinstance(payload, bool) or isinstance(payload, str) and re.fullmatch(r"-?\d+", payload)):
        number = int(payload)
        if -2**63 <= number < 2**63:
            return {"integerValue": str(number)}
    if kind == "doubleValue" and isinstance(payload, (int, float)) and not isinstance(payload, bool):
        return {"doubleValue": float(payload)}
    if kind == "doubleValue" and payload in ("NaN", "Infinity", "-Infinity"):
        return value
    if kind == "timestampValue" and isinstance(payload, str):
        return {"timestampValue": rfc3339(parse_time(payload))}
    if kind in ("stringValue", "bytesValue", "referenceValue") and isinstance(payload, str):
        return value
    if kind == "geoPointValue" and isinstance(payload, dict):
        return value
    if kind == "arrayValue" and isinstance(payload, dict):
        only_keys(payload, ["values"], where)
        return {"arrayValue": {"values": [canonical_value(v, where) for v in payload.get("values", [])]} if payload.get("values") else {}}
    if kind == "mapValue" and isinstance(payload, dict):
        only_keys(payload, ["fields"], where)
        return {"mapValue": {"fields": canonical_fields(payload.get("fields", {}), where)} if payload.get("fields") else {}}
    raise Failure("INVALID_ARGUMENT", f"Invalid value at '{where}': {json.dumps(value)[:80]}")


def canonical_fields(fields, where="fields"):
    if not isinstance(fields, dict):
        raise Failure("INVALID_ARGUMENT", f"Invalid JSON payload received at '{where}'.")
    return {name: canonical_value(value, f"{where}.{name}") for name, value in fields.items()}


TYPE_ORDER = ["nullValue", "booleanValue", "number", "timestampValue", "stringValue", "bytesValue", "referenceValue",
              "geoPointValue", "arrayValue", "mapValue"]


def sort_key(value):
    """Firestore's total order of values: by type, then within the type."""
    kind, payload = next(iter(value.items()))
    if kind in ("integerValue", "doubleValue"):
        return (2, float(payload) if payload not in ("NaN",) else float("-inf"))
    if kind == "timestampValue":
        return (3, parse_time(payload))
    if kind in ("stringValue", "referenceValue"):
        return (TYPE_ORDER.index(kind), payload.encode())
    if kind == "arrayValue":
        return (8, tuple(sort_key(v) for v in payload.get("values", [])))
    if kind == "mapValue":
        return (9, tuple(sorted((k, sort_key(v)) for k, v in payload.get("fields", {}).items())))
    return (TYPE_ORDER.index(kind), payload if not isinstance(payload, dict) else json.dumps(payload, sort_keys=True))


def parse_field_path(path):
    """Splits a field path (`a.b`, `` `x.y`.z ``) into its segments."""
    segments, current, index = [], "", 0
    while index < len(path):
        char = path[index]
        if char == "`":
            index += 1
            while index < len(path) and path[index] != "`":
                if path[index] == "\\":
                    index += 1
                current += path[index]
                index += 1
        elif char == ".":
            segments.append(current)
            current = ""
        else:
            current += char
        index += 1
    segments.append(current)
    if any(segment == "" for segment in segments):
        raise Failure("INVALID_ARGUMENT", f"Invalid property path: {path}")
    return segments


def field_value(doc, path):
    if path == "__name__":
        return {"referenceValue": doc["name"]}
    value = {"mapValue": {"fields": doc["fields"]}}
    for segment in parse_field_path(path):
        fields = value.get("mapValue", {}).get("fields", {})
        if segment not in fields:
            return None
        value = fields[segment]
    return value


# ---- the store --------------------------------------------------------------------------

class Database:
    """Documents of one project/database, keyed by full name."""

    def __init__(self):
        self.documents = {}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.databases = {}
        self.transactions = {}  # id -> {"reads": {name: update_time or None}, "read_only": bool}
        self.last_time = 0
        self.faults = []
        self.journal = []
        self.keys = {}  # kid -> public key (PEM) for the token endpoint
        self.token_lifetime = 3600
        self.tokens = {}  # token -> expiry (seconds)
        self.token_requests = []
        self.auth_projects = set()

    def database(self, project, database):
        return self.databases.setdefault((project, database), Database())

    def next_time(self):
        self.last_time = max(int(time.time() * 1_000_000), self.last_time + 1)
        return self.last_time


STATE = State()


def split_name(name, prefix):
    """Checks a document name (`prefix/collection/id`, or deeper in subcollections) and returns its segments."""
    if not name.startswith(prefix + "/"):
        raise Failure("INVALID_ARGUMENT", f"Document name \"{name}\" is not in database \"{prefix[:-10]}\".")
    parts = name[len(prefix) + 1:].split("/")
    if len(parts) % 2:
        raise Failure("INVALID_ARGUMENT", f"Document name \"{name}\" has an odd number of path segments.")
    for part in parts:
        check_id(part)
    return parts


def children(db, collection_path):
    """The documents directly in a collection (`parent/collectionId`), not in its subcollections."""
    start = collection_path + "/"
    return {name: doc for name, doc in db.documents.items() if name.startswith(start) and "/" not in name[len(start):]}


def check_id(part):
    if not part or part in (".", "..") or (len(part) >= 4 and part.startswith("__") and part.endswith("__")) or len(part.encode()) > MAX_ID_BYTES:
        raise Failure("INVALID_ARGUMENT", f"Document id \"{part[:60]}\" is invalid.")


def public(doc):
    out = {"name": doc["name"], "createTime": rfc3339(doc["createTime"]), "updateTime": rfc3339(doc["updateTime"])}
    if doc["fields"]:
        out["fields"] = doc["fields"]
    return out


def projected(doc, select):
    """The document as a query with `select` returns it: only the named fields (nested ones
    inside their maps); `__name__` alone gives the name and times without fields."""
    paths = [reference["fieldPath"] for reference in (select or {}).get("fields", [])]
    if not paths:
        return public(doc)
    fields = {}
    for path in paths:
        if path == "__name__":
            continue
        value = field_value(doc, path)
        if value is None:
            continue
        segments, target = parse_field_path(path), fields
        for segment in segments[:-1]:
            target = target.setdefault(segment, {"mapValue": {"fields": {}}})["mapValue"]["fields"]
        target[segments[-1]] = value
    return public({**doc, "fields": fields})


def check_transaction(transaction):
    if transaction is None:
        return None
    if transaction not in STATE.transactions:
        raise Failure("INVALID_ARGUMENT", "Transaction is invalid or has expired.")
    return STATE.transactions[transaction]


def record_read(transaction, db, name):
    if transaction is not None:
        doc = db.documents.get(name)
        STATE.transactions[transaction]["reads"].setdefault(name, doc["updateTime"] if doc else None)


def begin(options):
    only_keys(options or {}, ["readOnly", "readWrite"], "options")
    transaction = base64.b64encode(secrets.token_bytes(16)).decode()
    STATE.transactions[transaction] = {"reads": {}, "read_only": "readOnly" in (options or {})}
    return transaction


def abort(transaction, message):
    """Fails a transaction's commit: the transaction stays known, as in Firestore, so that the
    client's rollback after the failed commit succeeds; it can never commit."""
    transaction["aborted"] = message
    raise Failure("ABORTED", message)


def commit(db, prefix, body):
    only_keys(body, ["writes", "transaction"], "CommitRequest")
    transaction = check_transaction(body.get("transaction"))
    if transaction is not None:
        if transaction.get("aborted"):
            raise Failure("ABORTED", transaction["aborted"])
        for name, seen in transaction["reads"].items():
            doc = db.documents.get(name)
            if (doc["updateTime"] if doc else None) != seen:
                abort(transaction, "Transaction lock timeout: the document was changed by another transaction.")
        # Firestore's transactions are serializable: a query's result, not only the documents it
        # returned, must be what it was (no phantom: a matching document added meanwhile aborts).
        for collection_path, where, seen in transaction.get("queries", []):
            if query_versions(db, collection_path, where) != seen:
                abort(transaction, "Transaction lock timeout: a query's result was changed by another transaction.")
    staged = dict(db.documents)
    now = STATE.next_time()
    results = []
    for index, write in enumerate(body.get("writes", [])):
        only_keys(write, ["update", "delete", "updateMask", "currentDocument", "updateTransforms", "transform"], f"writes[{index}]")
        if ("update" in write) == ("delete" in write):
            raise Failure("INVALID_ARGUMENT", "A write must have exactly one of update or delete.")
        if write.get("updateTransforms") or write.get("transform"):
            raise Failure("UNIMPLEMENTED", "Field transforms are not supported by this test server.")
        name = write["update"]["name"] if "update" in write else write["delete"]
        split_name(name, prefix)
        current = staged.get(name)
        condition = write.get("currentDocument")
        if condition:
            only_keys(condition, ["exists", "updateTime"], f"writes[{index}].currentDocument")
            if "exists" in condition:
                if condition["exists"] and current is None:
                    raise Failure("NOT_FOUND", f"No document to update: {name}")
                if not condition["exists"] and current is not None:
                    raise Failure("ALREADY_EXISTS", f"Document already exists: {name}")
            if "updateTime" in condition and (current is None or current["updateTime"] != parse_time(condition["updateTime"])):
                raise Failure("FAILED_PRECONDITION", f"The stored version does not match the required base version: {name}")
        if "delete" in write:
            staged.pop(name, None)
            results.append({"updateTime": rfc3339(now)})
            continue
        only_keys(write["update"], ["name", "fields", "createTime", "updateTime"], f"writes[{index}].update")
        fields = canonical_fields(write["update"].get("fields", {}))
        if "updateMask" in write:
            merged = dict(current["fields"]) if current else {}
            for path in write["updateMask"].get("fieldPaths", []):
                top = parse_field_path(path)[0]
                if top in fields:
                    merged[top] = fields[top]
                else:
                    merged.pop(top, None)
            fields = merged
        staged[name] = {"name": name, "fields": fields, "createTime": current["createTime"] if current else now, "updateTime": now}
        results.append({"updateTime": rfc3339(now)})
    db.documents = staged
    if body.get("transaction"):
        STATE.transactions.pop(body["transaction"], None)
    return {"writeResults": results, "commitTime": rfc3339(now)}


def matches(doc, where):
    if where is None:
        return True
    only_keys(where, ["fieldFilter", "compositeFilter", "unaryFilter"], "where")
    if "compositeFilter" in where:
        composite = where["compositeFilter"]
        op = enum(composite.get("op"), COMPOSITE_OPS)
        results = [matches(doc, f) for f in composite.get("filters", [])]
        return all(results) if op == "AND" else any(results)
    if "unaryFilter" in where:
        unary = where["unaryFilter"]
        op = UNARY_OPS.get(unary.get("op"), unary.get("op"))
        value = field_value(doc, unary["field"]["fieldPath"])
        if op == "IS_NULL":
            return value is not None and "nullValue" in value
        if op == "IS_NOT_NULL":
            return value is not None and "nullValue" not in value
        is_nan = value is not None and value.get("doubleValue") == "NaN"
        return is_nan if op == "IS_NAN" else (value is not None and not is_nan)
    field = where["fieldFilter"]
    only_keys(field, ["field", "op", "value"], "fieldFilter")
    op = enum(field.get("op"), FIELD_OPS)
    target = canonical_value(field["value"], "fieldFilter.value")
    value = field_value(doc, field["field"]["fieldPath"])
    if value is None:
        return False
    if op == "EQUAL":
        return sort_key(value) == sort_key(target)
    if op == "NOT_EQUAL":
        return sort_key(value) != sort_key(target) and "nullValue" not in value
    if op in ("LESS_THAN", "LESS_THAN_OR_EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL"):
        a, b = sort_key(value), sort_key(target)
        if a[0] != b[0]:
            return False  # range filters match values of the same type only
        return {"LESS_THAN": a < b, "LESS_THAN_OR_EQUAL": a <= b, "GREATER_THAN": a > b, "GREATER_THAN_OR_EQUAL": a >= b}[op]
    options = target.get("arrayValue", {}).get("values", [])
    if op == "ARRAY_CONTAINS":
        return any(sort_key(v) == sort_key(target) for v in value.get("arrayValue", {}).get("values", []))
    if op == "IN":
        return any(sort_key(value) == sort_key(v) for v in options)
    if op == "NOT_IN":
        return all(sort_key(value) != sort_key(v) for v in options)
    if op == "ARRAY_CONTAINS_ANY":
        return any(sort_key(v) == sort_key(o) for v in value.get("arrayValue", {}).get("values", []) for o in options)
    raise Failure("INVALID_ARGUMENT", f"Unsupported operator {op}.")


def query_versions(db, collection_path, where):
    """The names and update times of the documents a query's filter selects, for a transaction's check."""
    return {name: doc["updateTime"] for name, doc in children(db, collection_path).items() if matches(doc, where)}


def run_query(db, parent, body):
    only_keys(body, ["structuredQuery", "transaction", "newTransaction", "readTime"], "RunQueryRequest")
    query = body.get("structuredQuery") or {}
    only_keys(query, ["from", "where", "orderBy", "limit", "offset", "select"], "structuredQuery")
    sources = query.get("from", [])
    if len(sources) != 1 or sources[0].get("allDescendants"):
        raise Failure("INVALID_ARGUMENT", "The query must name exactly one collection.")
    collection = sources[0]["collectionId"]
    check_id(collection)
    transaction = body.get("transaction")
    check_transaction(transaction)
    if "newTransaction" in body:
        transaction = begin(body["newTransaction"])
    docs = [d for d in children(db, f"{parent}/{collection}").values() if matches(d, query.get("where"))]
    if transaction is not None:
        STATE.transactions[transaction].setdefault("queries", []).append(
            (f"{parent}/{collection}", query.get("where"), query_versions(db, f"{parent}/{collection}", query.get("where"))))
    orders = [(o["field"]["fieldPath"], enum(o.get("direction", "ASCENDING"), DIRECTIONS)) for o in query.get("orderBy", [])]
    if not any(path == "__name__" for path, _ in orders):
        orders.append(("__name__", orders[-1][1] if orders else "ASCENDING"))
    for path, direction in reversed(orders):
        docs = [d for d in docs if field_value(d, path) is not None]
        docs.sort(key=lambda d: sort_key(field_value(d, path)) if path != "__name__" else d["name"].encode(),
                  reverse=direction == "DESCENDING")
    limit = query.get("limit")
    if isinstance(limit, dict):
        limit = limit.get("value")
    docs = docs[int(query.get("offset", 0)):]
    if limit is not None:
        docs = docs[:int(limit)]
    read_time = rfc3339(STATE.next_time())
    out = []
    for doc in docs:
        record_read(transaction, db, doc["name"])
        out.append({"document": projected(doc, query.get("select")), "readTime": read_time})
    if not out:
        out.append({"readTime": read_time})
    if "newTransaction" in body:
        out[0]["transaction"] = transaction
    return out


def batch_get(db, prefix, body):
    only_keys(body, ["documents", "mask", "transaction", "newTransaction", "readTime"], "BatchGetDocumentsRequest")
    transaction = body.get("transaction")
    check_transaction(transaction)
    if "newTransaction" in body:
        transaction = begin(body["newTransaction"])
    read_time = rfc3339(STATE.next_time())
    out = []
    for name in body.get("documents", []):
        split_name(name, prefix)
        record_read(transaction, db, name)
        doc = db.documents.get(name)
        out.append({"found": public(doc), "readTime": read_time} if doc else {"missing": name, "readTime": read_time})
    if "newTransaction" in body and out:
        out[0]["transaction"] = transaction
    return out


def list_documents(db, prefix, collection, query):
    order = query.get("orderBy", [""])[0]
    if order not in ("", "__name__", "__name__ asc"):
        raise Failure("INVALID_ARGUMENT", "This test server lists in document-name order only.")
    size = int(query.get("pageSize", ["300"])[0] or 300)
    if size <= 0:
        raise Failure("INVALID_ARGUMENT", "page_size must be positive")
    after = base64.urlsafe_b64decode(query["pageToken"][0]).decode() if query.get("pageToken", [""])[0] else ""
    names = sorted(children(db, f"{prefix}/{collection}"), key=str.encode)
    names = [n for n in names if n.encode() > after.encode()]
    page = names[:size]
    out = {}
    if page:
        out["documents"] = [public(db.documents[n]) for n in page]
    if len(names) > size:
        out["nextPageToken"] = base64.urlsafe_b64encode(page[-1].encode()).decode()
    return out


# ---- tokens -----------------------------------------------------------------------------

def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def issue_token(form, token_url):
    """The OAuth2 JWT-bearer grant: verifies the assertion as Google's token endpoint does."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    if form.get("grant_type", [""])[0] != "urn:ietf:params:oauth:grant-type:jwt-bearer":
        return 400, {"error": "unsupported_grant_type"}
    try:
        header_part, claims_part, signature_part = form["assertion"][0].split(".")
        header, claims = json.loads(b64url_decode(header_part)), json.loads(b64url_decode(claims_part))
        key = serialization.load_pem_public_key(STATE.keys[header["kid"]].encode())
        key.verify(b64url_decode(signature_part), f"{header_part}.{claims_part}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except Exception as error:  # noqa: BLE001 - any defect of the assertion is an invalid grant
        return 400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {error!r}"}
    now = int(time.time())
    problems = []
    if header.get("alg") != "RS256":
        problems.append("alg must be RS256")
    if claims.get("aud") != token_url:
        problems.append(f"aud must be {token_url}")
    if "https://www.googleapis.com/auth/datastore" not in claims.get("scope", "").split():
        problems.append("scope must include datastore")
    if not claims.get("iss"):
        problems.append("iss missing")
    if not (now - 300 <= claims.get("iat", 0) <= now + 300) or claims.get("exp", 0) - claims.get("iat", 0) != 3600:
        problems.append("iat must be now and exp one hour later")
    STATE.token_requests.append({"claims": claims, "header": header, "problems": problems})
    if problems:
        return 400, {"error": "invalid_grant", "error_description": "; ".join(problems)}
    token = "ya29.test-" + secrets.token_urlsafe(12)
    STATE.tokens[token] = now + STATE.token_lifetime
    return 200, {"access_token": token, "expires_in": STATE.token_lifetime, "token_type": "Bearer"}


# ---- HTTP -------------------------------------------------------------------------------

DOCUMENTS = re.compile(r"^/v1/projects/([^/]+)/databases/([^/]+)/documents(/.*?)?(?::(commit|runQuery|batchGet|beginTransaction|rollback))?$")
RESET = re.compile(r"^/emulator/v1/projects/([^/]+)/databases/([^/]+)/documents$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self.handle_request("GET")

    def do_POST(self):
        self.handle_request("POST")

    def do_PATCH(self):
        self.handle_request("PATCH")

    def do_DELETE(self):
        self.handle_request("DELETE")

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fail(self, status, message):
        self.reply(HTTP_CODES.get(status, 500), {"error": {"code": HTTP_CODES.get(status, 500), "message": message, "status": status}})

    def handle_request(self, method):
        url = urlsplit(self.path)
        path, query = unquote(url.path), parse_qs(url.query, keep_blank_values=True)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if path.startswith("/_test/"):
                return self.reply(*self.test_control(method, path, raw))
            if path == "/computeMetadata/v1/instance/service-accounts/default/token":
                return self.reply(*self.metadata_token())
            body = json.loads(raw) if raw else {}
            self.journal(method, url, body)
            match = DOCUMENTS.match(path)
            reset = RESET.match(path)
            if reset and method == "DELETE":
                with STATE.lock:
                    STATE.database(*reset.groups()).documents.clear()
                return self.reply(200, {})
            if not match:
                raise Failure("NOT_FOUND", f"No such method or path: {method} {path}")
            project, database, rest, verb = match.groups()
            segments = rest.strip("/").split("/") if rest else []
            self.authorize(project)
            fault = self.take_fault(verb or method.lower())
            if fault and not fault.get("after"):
                time.sleep(fault.get("delay_seconds", 0))
                raise Failure(fault["status"], fault.get("message", f"injected {fault['status']}"))
            prefix = f"projects/{project}/databases/{database}/documents"
            with STATE.lock:
                result = self.dispatch(method, STATE.database(project, database), prefix, verb, segments, query, body)
            if fault:  # applied, then the answer fails (a commit that "timed out" but happened)
                time.sleep(fault.get("delay_seconds", 0))
                raise Failure(fault["status"], fault.get("message", f"injected {fault['status']} after applying"))
            return self.reply(200, result)
        except Failure as failure:
            return self.fail(failure.status, failure.message)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            return self.fail("INVALID_ARGUMENT", f"Invalid request: {error!r}")

    def dispatch(self, method, db, prefix, verb, segments, query, body):
        for segment in segments:
            check_id(segment)
        if verb:
            if method != "POST" or (segments and verb != "runQuery") or len(segments) % 2:
                raise Failure("NOT_FOUND", f"{method} {'/'.join(segments)}:{verb}")
            if verb == "commit":
                return commit(db, prefix, body)
            if verb == "runQuery":  # on the database's documents, or on a document's subcollections
                return run_query(db, "/".join([prefix, *segments]), body)
            if verb == "batchGet":
                return batch_get(db, prefix, body)
            if verb == "beginTransaction":
                only_keys(body, ["options"], "BeginTransactionRequest")
                return {"transaction": begin(body.get("options"))}
            if verb == "rollback":
                only_keys(body, ["transaction"], "RollbackRequest")
                check_transaction(body.get("transaction"))
                STATE.transactions.pop(body["transaction"], None)
                return {}
            raise Failure("UNIMPLEMENTED", f"Method :{verb} is not implemented by this test server.")
        if not segments:
            raise Failure("INVALID_ARGUMENT", "A collection is required.")
        if len(segments) % 2:  # a collection
            collection = "/".join(segments)
            if method == "GET":
                return list_documents(db, prefix, collection, query)
            if method == "POST":
                doc_id = query.get("documentId", [""])[0] or secrets.token_urlsafe(15)[:20]
                name = f"{prefix}/{collection}/{doc_id}"
                commit(db, prefix, {"writes": [{"update": {"name": name, "fields": body.get("fields", {})}, "currentDocument": {"exists": False}}]})
                return public(db.documents[name])
            raise Failure("NOT_FOUND", f"{method} on a collection")
        name = "/".join([prefix, *segments])
        if method == "GET":
            transaction = query.get("transaction", [None])[0]
            check_transaction(transaction)
            record_read(transaction, db, name)
            if name not in db.documents:
                raise Failure("NOT_FOUND", f"Document \"{name}\" not found.")
            return public(db.documents[name])
        if method == "DELETE":
            condition = {k.split(".", 1)[1]: (v[0] == "true" if k.endswith("exists") else v[0]) for k, v in query.items() if k.startswith("currentDocument.")}
            commit(db, prefix, {"writes": [{"delete": name, **({"currentDocument": condition} if condition else {})}]})
            return {}
        if method == "PATCH":
            condition = {k.split(".", 1)[1]: (v[0] == "true" if k.endswith("exists") else v[0]) for k, v in query.items() if k.startswith("currentDocument.")}
            write = {"update": {"name": name, "fields": body.get("fields", {})}}
            if condition:
                write["currentDocument"] = condition
            if "updateMask.fieldPaths" in query:
                write["updateMask"] = {"fieldPaths": query["updateMask.fieldPaths"]}
            commit(db, prefix, {"writes": [write]})
            return public(db.documents[name])
        raise Failure("NOT_FOUND", method)

    def metadata_token(self):
        """A Google Cloud host's metadata server: a token for the host's service account."""
        if self.headers.get("Metadata-Flavor") != "Google":
            return 403, {"error": "Missing Metadata-Flavor: Google header"}
        with STATE.lock:
            token = "ya29.metadata-" + secrets.token_urlsafe(12)
            STATE.tokens[token] = time.time() + STATE.token_lifetime
            STATE.token_requests.append({"claims": {"iss": "metadata-server"}, "header": {}, "problems": []})
        return 200, {"access_token": token, "expires_in": STATE.token_lifetime, "token_type": "Bearer"}

    def authorize(self, project):
        if project not in STATE.auth_projects:
            return
        header = self.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if STATE.tokens.get(token, 0) <= time.time():
            raise Failure("UNAUTHENTICATED", "Request had invalid authentication credentials.")

    def take_fault(self, method):
        with STATE.lock:
            for fault in STATE.faults:
                if fault["count"] > 0 and method in fault.get("methods", [method]):
                    fault["count"] -= 1
                    return fault
        return None

    def journal(self, method, url, body):
        with STATE.lock:
            STATE.journal.append({"method": method, "path": url.path, "query": url.query, "body": body,
                                  "user_agent": self.headers.get("User-Agent", ""),
                                  "authorization": self.headers.get("Authorization", "")})

    def test_control(self, method, path, raw):
        body = json.loads(raw) if raw and path != "/_test/token" else {}
        with STATE.lock:
            if path == "/_test/faults" and method == "POST":
                STATE.faults.append(body)
                return 200, {}
            if path == "/_test/faults" and method == "DELETE":
                STATE.faults.clear()
                return 200, {}
            if path == "/_test/requests":
                journal = list(STATE.journal)
                if method == "DELETE":
                    STATE.journal.clear()
                return 200, journal
            if path == "/_test/keys" and method == "POST":
                STATE.keys[body["kid"]] = body["pem"]
                return 200, {}
            if path == "/_test/auth" and method == "POST":
                STATE.auth_projects.add(body["project"])
                STATE.token_lifetime = body.get("token_lifetime", 3600)
                STATE.token_requests.clear()
                return 200, {}
            if path == "/_test/revoke" and method == "POST":
                STATE.tokens.clear()
                return 200, {}
            if path == "/_test/token-requests":
                return 200, STATE.token_requests
            if path == "/_test/token" and method == "POST":
                host = self.headers.get("Host")
                return issue_token(parse_qs(raw.decode()), f"http://{host}/_test/token")
        return 404, {"error": "no such test control"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8085)
    parser.add_argument("--pid-file")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    if args.pid_file:
        import os
        with open(args.pid_file, "w") as f:
            f.write(str(os.getpid()))
    print(f"Firestore test server on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
