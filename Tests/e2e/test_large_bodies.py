"""Large availability bodies reach clients that do not accept gzip as files the workers wrote and
nginx sends itself (X-Accel-Redirect to an internal location): the same bytes and headers as
through FastCGI, never older than the booking just confirmed, and gone when the server stops
(the published catalog too)."""

import gzip
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from stack import assert_error, call, create_service, deploy, future_slots, restart_app

LARGE_BODY_DIR = os.path.join(os.environ.get("RUN_DIR", ""), "large-bodies")
PUBLISH_DIR = os.path.join(os.environ.get("RUN_DIR", ""), "published")
IDENTITY = {"Accept-Encoding": "identity"}
SAME_HEADERS = ["Content-Type", "Cache-Control", "Vary", "Strict-Transport-Security", "X-Content-Type-Options",
                "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"]


def body_files():
    return {name: open(os.path.join(LARGE_BODY_DIR, name), "rb").read() for name in os.listdir(LARGE_BODY_DIR)}


def read_until_a_file_holds_it():
    """Reads the catalog without gzip until a worker has written it to a file (a worker writes a
    body's file at its second such read; nginx answers most reads from the published catalog,
    so the workers see a read or two a second)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        response = call("GET", "/services", headers=IDENTITY)
        assert response.status_code == 200
        if response.content in body_files().values():
            return response
        time.sleep(0.02)
    raise AssertionError("no worker wrote the catalog to a file")


@pytest.fixture(scope="module")
def large_catalog():
    """At least 5 x 2,500 slots: a catalog well above the workers' 256 KB threshold."""
    return [create_service(future_slots(2500, start_days=150 + n, step_minutes=3), name=f"Large {n}") for n in range(5)]


def test_a_large_catalog_is_sent_from_a_file_with_the_headers_fastcgi_would_send(large_catalog):
    plain = read_until_a_file_holds_it()
    compressed = call("GET", "/services", headers={"Accept-Encoding": "gzip"}, stream=True)
    raw = compressed.raw.read(decode_content=False)
    assert plain.status_code == 200 and int(plain.headers["Content-Length"]) == len(plain.content) > 256 * 1024
    assert compressed.headers["Content-Encoding"] == "gzip" and gzip.decompress(raw) == plain.content
    assert all(name.startswith("booking-body-") and name.endswith(".json") for name in body_files())
    headers = {name: compressed.headers.get(name) for name in SAME_HEADERS}
    for again in [plain] + [call("GET", "/services", headers=IDENTITY) for _ in range(6)]:  # from files, mostly
        assert again.content == plain.content and {name: again.headers.get(name) for name in SAME_HEADERS} == headers
        assert again.headers["ETag"] == plain.headers["ETag"] != compressed.headers["ETag"], "one tag per form, from file or worker"
        assert not {"Last-Modified", "Accept-Ranges", "Content-Encoding", "X-Accel-Redirect"} & set(again.headers)

    # No ranges (a part of one version never joins another's), and preconditions answered by the
    # workers, which nginx never evaluates them for (for a file it would: 412 for If-Match): the
    # body, or 304 for a tag If-None-Match names.
    for headers in ({"Range": "bytes=0-9"}, {"If-None-Match": '"x"'}, {"If-Match": '"x"'},
                    {"If-Modified-Since": "Sat, 01 Jan 2050 00:00:00 GMT"}, {"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}):
        again = call("GET", "/services", headers={**IDENTITY, **headers})
        assert again.status_code == 200 and again.content == plain.content, headers
    for tags in ("*", plain.headers["ETag"]):
        again = call("GET", "/services", headers={**IDENTITY, "If-None-Match": tags})
        assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == plain.headers["ETag"]
    head = call("HEAD", "/services", headers=IDENTITY)
    assert head.status_code == 200 and head.headers["Content-Length"] == plain.headers["Content-Length"] and not head.content


def test_the_internal_locations_answer_clients_404(large_catalog):
    read_until_a_file_holds_it()
    for path in ["/_large/" + next(iter(body_files())), "/_large/", "/_errors/400.json"]:
        assert_error(call("GET", path), 404, "not_found")


def test_a_booked_slot_never_shows_free_in_the_file_after_its_201(large_catalog):
    service = large_catalog[0]
    sid = service["service_id"]

    def free(_):
        response = call("GET", "/services", headers=IDENTITY)
        assert response.status_code == 200 and "Content-Encoding" not in response.headers
        return next(s["available_slots"] for s in response.json()["services"] if s["service_id"] == sid)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(free, range(16)))  # every worker has the catalog and its file
        for slot in service["available_slots"][:3]:
            assert call("POST", "/book", json={"service_id": sid, "slot": slot, "user_name": "reader"}).status_code == 201
            assert all(slot not in slots for slots in pool.map(free, range(16))), f"{slot} showed free after its 201"


def test_stopping_the_server_removes_its_files(large_catalog):
    read_until_a_file_holds_it()
    deadline = time.monotonic() + 5
    while not [name for name in os.listdir(PUBLISH_DIR) if name.startswith("services-")]:
        assert time.monotonic() < deadline, "the catalog was never published"
        call("GET", "/services")
    deploy("stop_app")
    try:
        assert not body_files()
        assert os.listdir(PUBLISH_DIR) in ([], [".lock"]), "the published catalog too"
    finally:
        restart_app()
    for _ in range(100):
        if call("GET", "/healthz").status_code == 200:
            break
        time.sleep(0.1)
    read_until_a_file_holds_it()
