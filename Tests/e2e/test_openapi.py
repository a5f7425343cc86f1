"""The OpenAPI description (nginx/www/openapi.yaml) is valid and true to what the server does."""

import json
import os
import re

import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from stack import ADMIN, ROOT, call, create_service, future_slots

SPEC = yaml.safe_load(open(os.path.join(ROOT, "nginx", "www", "openapi.yaml")))
REGISTRY = Registry().with_resource("spec", DRAFT202012.create_resource(SPEC))
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]


def check(template, method, response):
    """The status is documented for the operation, and the body matches its schema."""
    documented = SPEC["paths"][template][method.lower()]["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method} {template} answered undocumented {status}"
    escaped = template.replace("~", "~0").replace("/", "~1")
    pointer = documented[status].get("$ref") or f"#/paths/{escaped}/{method.lower()}/responses/{status}"
    if status == "304":
        assert response.content == b"" and "content" not in resolve(documented[status]), f"{method} {template} 304"
        assert all(name in response.headers for name in resolve(documented[status])["headers"]), f"{method} {template} 304 headers"
        return
    media = response.headers["Content-Type"].split(";")[0]
    content = (resolve(documented[status]) if "$ref" in documented[status] else documented[status])["content"]
    assert media in content, f"{method} {template} {status}: undocumented {media}"
    if media != "application/json":
        return
    schema = {"$ref": f"spec{pointer}/content/application~1json/schema"}
    errors = list(Draft202012Validator(schema, registry=REGISTRY).iter_errors(response.json()))
    assert not errors, f"{method} {template} {status}: {errors[0].message}"
    for name, header in documented[status].get("headers", {}).items():
        if "$ref" in header:
            header = SPEC["components"]["headers"][header["$ref"].rsplit("/", 1)[1]]
        if name in response.headers and "const" in header["schema"]:
            assert response.headers[name] == header["schema"]["const"], f"{method} {template} {status}: {name}"


def resolve(node):
    """The node a local `$ref` names."""
    target = SPEC
    for part in node["$ref"].lstrip("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def test_the_description_is_valid_openapi():
    validate(SPEC)


def test_every_example_matches_its_schema():
    checked = 0
    for template, item in SPEC["paths"].items():
        for method, operation in item.items():
            escaped = template.replace("~", "~0").replace("/", "~1")
            bodies = [("requestBody", operation.get("requestBody", {}))] + [
                (f"responses/{status}", response) for status, response in operation["responses"].items()]
            for place, body in bodies:
                media = body.get("content", {}).get("application/json", {})
                examples = {**media.get("examples", {}), **({"example": {"value": media["example"]}} if "example" in media else {})}
                for name, example in examples.items():
                    # By its place in the description, so that the $refs inside an inline schema resolve.
                    schema = {"$ref": "spec" + media["schema"]["$ref"]} if "$ref" in media["schema"] else {
                        "$ref": f"spec#/paths/{escaped}/{method}/{place}/content/application~1json/schema"}
                    errors = list(Draft202012Validator(schema, registry=REGISTRY).iter_errors(example["value"]))
                    assert not errors, f"{method} {template} example {name}: {errors[0].message}"
                    checked += 1
    assert checked >= 4


def test_every_path_answers_exactly_the_documented_methods():
    samples = {"{service_id}": "some-service", "{booking_id}": "some-booking"}
    for template, item in SPEC["paths"].items():
        path = template
        for name, value in samples.items():
            path = path.replace(name, value)
        documented = {m.upper() for m in item}
        allowed = documented | ({"HEAD"} if "GET" in documented else set())
        for method in METHODS:
            response = call(method, path, json={})
            if method in allowed:
                assert response.status_code != 405, f"{method} {path}"
            else:
                assert response.status_code == 405, f"{method} {path}"
                assert set(response.headers["Allow"].split(", ")) == allowed


def test_responses_match_their_schemas():
    service = create_service(future_slots(2))
    sid, slot = service["service_id"], service["available_slots"][0]
    for encoding in ("gzip", "identity"):
        catalog = call("GET", "/services", headers={"Accept-Encoding": encoding})
        assert catalog.headers["Vary"] == "Accept-Encoding"
        check("/services", "GET", catalog)
        check("/services/{service_id}", "GET", call("GET", f"/services/{sid}", headers={"Accept-Encoding": encoding}))
    check("/services/{service_id}", "GET", call("GET", "/services/missing"))
    tag = call("GET", f"/services/{sid}").headers["ETag"]
    check("/services/{service_id}", "GET", call("GET", f"/services/{sid}", headers={"If-None-Match": tag}))
    check("/services", "GET", call("GET", "/services", headers={"If-None-Match": "*"}))
    created = call("POST", "/services", headers=ADMIN, json={"service_name": "Spec", "available_slots": future_slots(1)})
    check("/services", "POST", created)
    example = SPEC["paths"]["/services"]["post"]["requestBody"]["content"]["application/json"]["examples"]["schedule"]["value"]
    scheduled = call("POST", "/services", headers=ADMIN, json={**example, "service_id": f"spec-{sid}", "max_advance_days": 1})
    check("/services", "POST", scheduled)
    check("/services/{service_id}", "GET", call("GET", f"/services/spec-{sid}"))
    for body in [{"service_name": "x", "available_slots": ["never"]}, {"service_name": 1}]:
        check("/services", "POST", call("POST", "/services", headers=ADMIN, json=body))
    check("/services", "POST", call("POST", "/services", json={}))
    booking = call("POST", "/book", json={"service_id": sid, "slot": slot, "user_name": "Spec"})
    check("/book", "POST", booking)
    check("/bookings/{booking_id}", "GET", call("GET", f"/bookings/{booking.json()['booking_id']}"))
    check("/bookings/{booking_id}", "GET", call("GET", "/bookings/missing"))
    for body in [{"service_id": sid, "slot": slot, "user_name": "Again"}, {"service_id": "missing", "slot": slot, "user_name": "A"},
                 {"service_id": sid, "slot": "soon", "user_name": "A"}, {"service_id": sid}]:
        check("/book", "POST", call("POST", "/book", json=body))
    check("/book", "POST", call("POST", "/book", data="{", headers={"Content-Type": "application/json"}))
    check("/book", "POST", call("POST", "/book", data="x", headers={"Content-Type": "text/plain"}))
    check("/book", "POST", call("POST", "/book", data="x" * 70_000, headers={"Content-Type": "application/json"}))
    check("/healthz", "GET", call("GET", "/healthz"))
    check("/readyz", "GET", call("GET", "/readyz"))


def test_lifecycle_responses_match_their_schemas():
    service = create_service(future_slots(3))
    sid, slots = service["service_id"], service["available_slots"]
    made = call("POST", "/book", json={"service_id": sid, "slot": slots[0], "user_name": "Spec", "email": "spec@example.com",
                                       "phone": "+1 555 0100", "notes": "n"}, headers={"Idempotency-Key": "spec-" + sid})
    check("/book", "POST", made)
    check("/book", "POST", call("POST", "/book", json={"service_id": sid, "slot": slots[0], "user_name": "Spec", "email": "spec@example.com",
                                                        "phone": "+1 555 0100", "notes": "n"}, headers={"Idempotency-Key": "spec-" + sid}))
    check("/book", "POST", call("POST", "/book", json={"service_id": sid, "slot": slots[1], "user_name": "Spec"},
                                headers={"Idempotency-Key": "spec-" + sid}))
    booking, token = made.json()["booking_id"], made.json()["manage_token"]
    owner = {"Authorization": f"Bearer {token}"}
    template = "/bookings/{booking_id}"
    check(template, "GET", call("GET", f"/bookings/{booking}", headers=owner))
    check(template, "GET", call("GET", f"/bookings/{booking}", headers={"Authorization": "Bearer wrong"}))
    move = "/bookings/{booking_id}/reschedule"
    check(move, "POST", call("POST", f"/bookings/{booking}/reschedule", json={"slot": slots[1]}, headers=owner))
    check(move, "POST", call("POST", f"/bookings/{booking}/reschedule", json={"slot": "later"}, headers=owner))
    check(move, "POST", call("POST", f"/bookings/{booking}/reschedule", json={}, headers=owner))
    check(move, "POST", call("POST", f"/bookings/{booking}/reschedule", json={"slot": slots[2]}))
    check(move, "POST", call("POST", "/bookings/missing/reschedule", json={"slot": slots[2]}, headers=ADMIN))
    check("/bookings", "GET", call("GET", "/bookings", params={"service_id": sid}, headers=ADMIN))
    check("/bookings", "GET", call("GET", "/bookings", params={"service_id": sid}, headers={**ADMIN, "Accept": "text/csv"}))
    check("/bookings", "GET", call("GET", "/bookings", params={"limit": "many"}, headers=ADMIN))
    check("/bookings", "GET", call("GET", "/bookings", params={"limit": 0}, headers=ADMIN))
    check("/bookings", "GET", call("GET", "/bookings"))
    check(template, "DELETE", call("DELETE", f"/bookings/{booking}"))
    check(template, "DELETE", call("DELETE", f"/bookings/{booking}", headers={"Authorization": "Bearer wrong"}))
    check(template, "DELETE", call("DELETE", f"/bookings/{booking}", headers=owner))
    check(template, "DELETE", call("DELETE", "/bookings/missing", headers=ADMIN))
    check(move, "POST", call("POST", f"/bookings/{booking}/reschedule", json={"slot": slots[2]}, headers=owner))
    check("/services/{service_id}", "GET", call("GET", f"/services/{sid}", params={"from": slots[1]}))
    check("/services", "GET", call("GET", "/services", params={"to": "never"}))


def test_service_changes_match_their_schemas():
    service = create_service(future_slots(2))
    sid, slots = service["service_id"], service["available_slots"]
    merge = {**ADMIN, "Content-Type": "application/merge-patch+json"}
    check("/services/{service_id}", "PATCH", call("PATCH", f"/services/{sid}", headers=merge, data='{"seats": 2, "description": "x"}'))
    check("/services/{service_id}", "PATCH", call("PATCH", f"/services/{sid}", headers=merge, data='{"seats": 0}'))
    check("/services/{service_id}", "PATCH", call("PATCH", f"/services/{sid}", headers=merge, data='{'))
    check("/services/{service_id}", "PATCH", call("PATCH", "/services/missing", headers=merge, data="{}"))
    check("/services/{service_id}", "PATCH", call("PATCH", f"/services/{sid}", data="{}", headers={"Content-Type": "application/json"}))
    assert call("POST", "/book", json={"service_id": sid, "slot": slots[0], "user_name": "Spec"}).status_code == 201
    held = call("PATCH", f"/services/{sid}", headers=merge, data='{"available_slots": []}')
    assert held.status_code == 409
    check("/services/{service_id}", "PATCH", held)
    check("/services/{service_id}", "DELETE", call("DELETE", f"/services/{sid}", headers=ADMIN))
    check("/services/{service_id}", "DELETE", call("DELETE", f"/services/{sid}?cancel_bookings=true", headers=ADMIN))
    check("/services/{service_id}", "DELETE", call("DELETE", f"/services/{sid}", headers=ADMIN))


def test_every_error_code_nginx_or_the_workers_can_send_is_in_the_error_schema():
    codes = set(SPEC["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    pages = os.path.join(ROOT, "nginx", "errors")
    sent = {json.load(open(os.path.join(pages, name)))["error"]["code"] for name in os.listdir(pages)}
    for folder, pattern in (("BookingAPI", r'code: "([a-z_]+)"'), ("Booking", r'^\s+case [^:]+: "([a-z_]+)"$')):
        for name in os.listdir(os.path.join(ROOT, "Sources", folder)):
            if name in ("APIError.swift", "BookingError.swift"):
                sent |= set(re.findall(pattern, open(os.path.join(ROOT, "Sources", folder, name)).read(), re.MULTILINE))
    assert len(sent) > 30 and sent <= codes, f"codes sent but not in the schema: {sent - codes}"


def test_the_description_is_served_as_yaml_and_is_the_one_in_the_repository():
    served = call("GET", "/openapi.yaml")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "application/yaml; charset=utf-8"
    assert served.headers["Cache-Control"] == "no-cache"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert yaml.safe_load(served.content) == SPEC


def test_a_number_json_schema_counts_as_an_integer_is_taken_as_one():
    # Found by schemathesis: the description says integer, and JSON Schema counts 30.0 as one.
    body = '{"service_name": "Whole", "available_slots": [], "duration_minutes": 30.0, "seats": 2e0}'
    created = call("POST", "/services", headers={**ADMIN, "Content-Type": "application/json"}, data=body)
    assert created.status_code == 201, created.text
    assert (created.json()["duration_minutes"], created.json()["seats"]) == (30, 2)
    refused = call("POST", "/services", headers={**ADMIN, "Content-Type": "application/json"}, data=body.replace("30.0", "30.5"))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_request", refused.text
