"""The catalog the workers publish each second (PUBLISH_DIR): nginx serves it without asking them,
with the headers they would send, and a booking withdraws it before its 201, so no read that
begins after a 201 shows the slot free, whether nginx or a worker answers it."""

import gzip
import os
import threading
import time

import requests

from stack import call, create_service, future_slots
from test_large_bodies import PUBLISH_DIR, SAME_HEADERS as WORKER_HEADERS

ACCESS_LOG = os.path.join(os.environ.get("RUN_DIR", ""), "nginx", "access.log")
SAME_HEADERS = WORKER_HEADERS + ["Content-Encoding"]


class CatalogReads:
    """Counts, from nginx's access log, the reads of the catalog nginx answered alone (no
    upstream time) and those the workers answered, from now on."""

    def __init__(self):
        self.offset = os.path.getsize(ACCESS_LOG)

    def count(self):
        with open(ACCESS_LOG, "rb") as log:
            log.seek(self.offset)
            lines = [line.split() for line in log.read().splitlines() if b'"GET /services HTTP/' in line]
        alone = sum(1 for fields in lines if fields[-1] == b"-")
        return alone, len(lines) - alone


def read_until_nginx_serves_it_alone(headers):
    reads = CatalogReads()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response, raw = read_with(headers)
        if reads.count()[0]:
            return response, raw
    raise AssertionError("nginx never served a published catalog")


def test_nginx_serves_the_published_catalog_with_the_workers_headers():
    create_service(future_slots(3))
    for encoding in ("identity", "gzip"):
        published, raw = read_until_nginx_serves_it_alone({"Accept-Encoding": encoding})
        # A precondition sends the read to the workers; a tag that is not the body's gets the body,
        # with the headers and the ETag nginx sent.
        answered, answered_raw = read_with({"Accept-Encoding": encoding, "If-None-Match": '"x"'})
        assert {name: published.headers.get(name) for name in SAME_HEADERS + ["ETag"]} == \
            {name: answered.headers.get(name) for name in SAME_HEADERS + ["ETag"]}, encoding
        assert not {"Last-Modified", "Accept-Ranges"} & set(published.headers)
        body = gzip.decompress(raw) if encoding == "gzip" else raw
        assert body == (gzip.decompress(answered_raw) if encoding == "gzip" else answered_raw)
        assert (published.headers.get("Content-Encoding") == "gzip") == (encoding == "gzip")
    names = os.listdir(PUBLISH_DIR)
    assert any(name.startswith("services-") and name.endswith(".json") for name in names), names
    ranged = call("GET", "/services", headers={"Range": "bytes=0-9", "Accept-Encoding": "identity"})
    assert ranged.status_code == 200 and ranged.content == body


def read_with(headers):
    response = call("GET", "/services", headers=headers, stream=True)
    assert response.status_code == 200
    return response, response.raw.read(decode_content=False)


def test_no_read_begun_after_a_201_shows_the_slot_free_while_nginx_serves_published_catalogs():
    service = create_service(future_slots(15))
    sid = service["service_id"]
    reads, confirmed, stop = [], {}, threading.Event()
    catalog_reads = CatalogReads()

    def reader():
        session = requests.Session()
        while not stop.is_set():
            began = time.monotonic()
            response = call("GET", "/services", session=session)
            free = next(s["available_slots"] for s in response.json()["services"] if s["service_id"] == sid)
            reads.append((began, response.status_code, set(free)))

    readers = [threading.Thread(target=reader) for _ in range(6)]
    for thread in readers:
        thread.start()
    try:
        for slot in service["available_slots"]:
            # Each booking is made while nginx serves a published catalog: the one it withdraws.
            served_alone = catalog_reads.count()[0]
            deadline = time.monotonic() + 10
            while catalog_reads.count()[0] == served_alone:
                assert time.monotonic() < deadline, "nginx served no published catalog between bookings"
                time.sleep(0.01)
            assert call("POST", "/book", json={"service_id": sid, "slot": slot, "user_name": "racer"}).status_code == 201
            confirmed[slot] = time.monotonic()
    finally:
        stop.set()
        for thread in readers:
            thread.join(30)
    for began, status, free in reads:
        assert status == 200
        shown = [slot for slot, at in confirmed.items() if at < began and slot in free]
        assert not shown, f"a read begun after their 201s showed {shown} free"
    assert catalog_reads.count()[1] > 0, "the workers answered no read: the withdrawals were not raced"
