"""Every request the Swift gateway sent to the test server (during swift test and the end-to-end
run on Firestore) fits Google's API description: a documented method and path, documented query
parameters, and a body that matches the method's request schema."""

import json
import re
from urllib.parse import unquote

from server_control import DISCOVERY, control

API = json.load(open(DISCOVERY))
METHODS = API["resources"]["projects"]["resources"]["databases"]["resources"]["documents"]["methods"]


# The discovery document's `parent` patterns name only sub-document parents; Google's own client
# (its REST bindings for runQuery, listDocuments, ...) also sends the database's root documents.
ROOT_PARENT = re.compile(r"^projects/[^/]+/databases/[^/]+/documents$")


def path_regex(template):
    """A discovery path template (`v1/{+parent}:runQuery`) as a regular expression."""
    regex = ""
    for part in re.split(r"(\{\+?\w+\})", template):
        if part.startswith("{+"):
            regex += f"(?P<{part[2:-1]}>.+?)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile("^/" + regex + "$")


def matching_methods(method, path):
    names = []
    for name, spec in METHODS.items():
        match = spec["httpMethod"] == method and path_regex(spec["path"]).match(path)
        if not match:
            continue
        patterns = {key: spec["parameters"][key].get("pattern") for key in match.groupdict()}
        if all(pattern is None or re.match(pattern, value) or (key == "parent" and ROOT_PARENT.match(value))
               for (key, value), pattern in zip(match.groupdict().items(), patterns.values())):
            names.append(name)
    return names


def schema_errors(value, schema, where):
    """Differences between a JSON value and a discovery schema: unknown properties, wrong types, bad enums."""
    if "$ref" in schema:
        return schema_errors(value, API["schemas"][schema["$ref"]], where)
    kind = schema.get("type")
    errors = []
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], f"{where}.{key}")
            elif "additionalProperties" in schema:
                errors += schema_errors(item, schema["additionalProperties"], f"{where}[{key}]")
            else:
                errors.append(f"{where}: unknown property {key!r}")
    elif kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        for index, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{where}[{index}]")
    elif kind == "string":
        if schema.get("format") in ("int64", "uint64"):
            ok = isinstance(value, str) and re.fullmatch(r"-?\d+", value) or isinstance(value, int)
        elif schema.get("format") == "google-datetime":
            ok = isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", value)
        else:
            ok = isinstance(value, str)
        if not ok:
            errors.append(f"{where}: {value!r} is not a {schema.get('format', 'string')}")
        if "enum" in schema and value not in schema["enum"]:
            errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{where}: {value!r} is not an integer")
    elif kind == "number":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            errors.append(f"{where}: {value!r} is not a number")
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{where}: {value!r} is not a boolean")
    elif kind == "any":
        pass
    return errors


def test_the_description_is_the_revision_in_shared():
    # ../shared's copy, or the same revision as the pinned google-api-python-client ships it.
    assert API["name"] == "firestore" and API["version"] == "v1" and API["revision"] == "20260928", DISCOVERY


def test_the_gateways_requests_fit_the_discovery_document():
    sent = [r for r in control("GET", "requests") if r["user_agent"].startswith("booking-firestore-gateway")]
    assert len(sent) > 100, "the gateway's requests should have been recorded during the earlier tests"
    used = set()
    for request in sent:
        names = matching_methods(request["method"], unquote(request["path"]))
        assert names, f"no documented method for {request['method']} {request['path']}"
        name = names[0]
        used.add(name)
        spec = METHODS[name]
        parameters = {key.split("=")[0] for key in request["query"].split("&") if key}
        assert parameters <= set(spec["parameters"]), f"{name}: undocumented query parameters {parameters - set(spec['parameters'])}"
        if "request" in spec:
            errors = schema_errors(request["body"], spec["request"], spec["request"]["$ref"])
            assert not errors, f"{name}: {errors[:3]}"
        else:
            assert request["body"] == {}, f"{name} takes no body"
        assert request["authorization"] in ("Bearer owner",) or request["authorization"].startswith("Bearer ya29.")
    assert {"get", "runQuery", "commit"} <= used and used & {"list", "listDocuments"}, used


def test_the_checker_catches_what_google_would_refuse():
    commit = METHODS["commit"]["request"]
    assert schema_errors({"writes": [{"update": {"name": "x", "fields": {"a": {"stringValue": "b"}}}}]}, commit, "c") == []
    assert schema_errors({"writes": [{"upsert": {}}]}, commit, "c")
    assert schema_errors({"writes": [{"currentDocument": {"exists": "yes"}}]}, commit, "c")
    assert schema_errors({"writes": [{"update": {"fields": {"a": {"integerValue": "x1"}}}}]}, commit, "c")
    query = METHODS["runQuery"]["request"]
    assert schema_errors({"structuredQuery": {"where": {"fieldFilter": {"op": "EQUALS"}}}}, query, "q")
