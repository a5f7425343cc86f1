"""Whatever a client sends, the answer is never a 5xx and every error has the API's shape: a
seeded stream of odd methods, paths, headers and bodies (valid ones, broken ones, and valid ones
with random bytes changed) through nginx to the workers, on one kept connection."""

import json
import random
import uuid

import requests

from stack import ADMIN, call, create_service, future_slots

PATH_TAILS = ["", "%00", "%ff%fe", "..", ".", "a%2Fb", "%C3%A9", "e%CC%81", "x" * 600, "%F0%9F%98%80", "__x__",
              "a@b", "%E2%80%AE", "%ED%A0%80", "%C0%AF", "%20", "?", "#", "%", "%zz"]
QUERY_TAILS = ["", "a=1", "%00", "service_id=x&service_id=y", "=" * 50]
HEADERS = [
    {},
    {"Content-Type": "application/json"},
    {"Content-Type": "application/json; charset=utf-8"},
    {"Content-Type": "APPLICATION/JSON"},
    {"Content-Type": "text/plain"},
    {"Content-Type": "application/json; charset=latin1"},
    {"Content-Type": ""},
    {"Accept-Encoding": "gzip;q=abc"},
    {"Accept-Encoding": "*;q=0, x-gzip"},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic eDp5"},
    {"Content-Type": "application/json", **ADMIN},
]


def bodies(service_id, slots):
    booking = {"service_id": service_id, "slot": slots[0], "user_name": "fuzz"}
    return [
        b"", b"{", b"}", b"null", b"[]", b'"\\u0000"', b"1e999999", b"[" * 10_000, b"\xff\xfe", b'{"a":"\\ud800"}',
        json.dumps(booking).encode(),
        json.dumps({**booking, "slot": "2031-02-30T00:00:00Z"}).encode(),
        json.dumps({**booking, "slot": "9999-12-31T23:59:59Z"}).encode(),
        json.dumps({**booking, "slot": "0000-01-01T00:00:00Z"}).encode(),
        json.dumps({**booking, "slot": slots[1].replace("Z", ".5Z")}).encode(),
        json.dumps({**booking, "slot": slots[1].replace("Z", "+23:59")}).encode(),
        json.dumps({**booking, "user_name": "\u0000"}).encode(),
        json.dumps({**booking, "service_id": 1, "slot": [], "user_name": {}}).encode(),
        json.dumps({"service_name": "fuzz", "available_slots": ["1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z"]}).encode(),
        json.dumps({"service_id": "a" + "\u0301" * 740, "service_name": "fuzz", "available_slots": []}).encode(),
        b'{"service_id":"x","service_id":"y"}',
        b'{"a":' * 500,
    ]


def mutated(body, rng):
    data = bytearray(body)
    for _ in range(rng.randint(1, 4)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def test_odd_requests_never_get_a_5xx_and_errors_keep_their_shape():
    service_id = f"fuzz-{uuid.uuid4().hex[:8]}"
    slots = future_slots(3)
    create_service(slots, service_id=service_id)
    rng = random.Random(20261127)
    session = requests.Session()
    choices = bodies(service_id, slots)
    paths = ["/services", "/services/", f"/services/{service_id}", "/book", "/bookings/", "/healthz", "/"]
    seen = set()
    for _ in range(2000):
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "GET", "POST"])
        path = rng.choice(paths) + (rng.choice(PATH_TAILS) if rng.random() < 0.4 else "")
        if rng.random() < 0.2:
            path += "?" + rng.choice(QUERY_TAILS)
        body = rng.choice(choices)
        if rng.random() < 0.3:
            body = mutated(body, rng)
        headers = {"Content-Type": "application/json", **rng.choice(HEADERS)} if rng.random() < 0.5 else rng.choice(HEADERS)
        response = call(method, path, session=session, data=body or None, headers=headers)
        what = f"{method} {path[:80]} {body[:80]!r} -> {response.status_code} {response.content[:120]!r}"
        assert response.status_code < 500, what
        if response.status_code >= 400 and method != "HEAD":
            assert response.headers["Content-Type"].startswith("application/json"), what
            error = response.json()["error"]
            assert set(error) == {"code", "message"} and error["code"] and error["message"], what
        seen.add(response.status_code)
    assert {200, 400, 404, 405, 422} <= seen, seen  # the stream reached the handlers, not only nginx
    # The workers are all still there and still book.
    assert call("GET", "/healthz").status_code == 200
    booked = call("POST", "/book", json={"service_id": service_id, "slot": slots[2], "user_name": "after"})
    assert booked.status_code in (201, 409), booked.text
