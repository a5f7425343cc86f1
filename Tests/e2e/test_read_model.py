"""The cached availability reads never show a booked slot as free on this host once the booking's
201 has been sent, whichever worker process or thread answers; another host (its own workers and
change counters, the same store) catches up within the stated second."""

import os
import subprocess
import tempfile
import threading
import time
import uuid
from urllib.parse import quote

import pytest

from stack import BACKEND, assert_error, call, create_service, future_slots
from test_deployment import binary, fastcgi_request


def concurrent_gets(paths, rounds=4):
    results = []
    lock = threading.Lock()

    def get(path):
        response = call("GET", path)
        with lock:
            results.append((path, response.status_code, response.json()))

    threads = [threading.Thread(target=get, args=(path,)) for path in paths * rounds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def free_slots(path, body, service_id):
    if path == "/services":
        return next(s["available_slots"] for s in body["services"] if s["service_id"] == service_id)
    return body["available_slots"]


def test_a_booked_slot_never_shows_free_on_this_host_after_its_201():
    service = create_service(future_slots(12))
    sid = service["service_id"]
    paths = ["/services", f"/services/{sid}"]
    concurrent_gets(paths, rounds=8)  # every worker thread has the body cached now
    for slot in service["available_slots"][:8]:
        assert call("POST", "/book", json={"service_id": sid, "slot": slot, "user_name": "reader"}).status_code == 201
        for path, status, body in concurrent_gets(paths):
            assert status == 200
            assert slot not in free_slots(path, body, sid), f"{path} showed {slot} free after its 201"


@pytest.mark.skipif(BACKEND != "postgres", reason="runs a second host against the PostgreSQL store")
@pytest.mark.parametrize("read_cache_seconds", [None, 3])
def test_another_host_shows_a_booking_within_its_read_cache_lifetime(read_cache_seconds):
    lifetime = read_cache_seconds or 1  # READ_CACHE_SECONDS, 1 when unset
    service = create_service(future_slots(2))
    sid, slot = service["service_id"], service["available_slots"][0]
    with tempfile.TemporaryDirectory() as directory:
        socket_path = os.path.join(directory, "host-b.sock")
        env = {**os.environ, "FCGI_SOCKET": socket_path, "WORKERS": "1", "THREADS": "2", "METRICS_ADDRESS": "off"}
        if read_cache_seconds:
            env["READ_CACHE_SECONDS"] = str(read_cache_seconds)
        host_b = subprocess.Popen([binary()], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(socket_path) and time.monotonic() < deadline:
                time.sleep(0.05)
            for _ in range(4):  # host B caches the service's availability
                status, body = fastcgi_request(socket_path, "GET", f"/services/{sid}")
                assert status == 200 and slot in body.decode()
            assert call("POST", "/book", json={"service_id": sid, "slot": slot, "user_name": "host a"}).status_code == 201
            booked = time.monotonic()
            while slot in fastcgi_request(socket_path, "GET", f"/services/{sid}")[1].decode():
                assert time.monotonic() - booked < lifetime + 0.5, "host B still shows the slot free"
                time.sleep(0.05)
            if read_cache_seconds:  # not at once: host B kept its cached body for the lifetime set
                assert time.monotonic() - booked > lifetime * 0.5, "host B's cache ignored READ_CACHE_SECONDS"
        finally:
            host_b.terminate()
            host_b.wait(20)


def test_ids_that_differ_only_in_unicode_normalisation_name_different_services():
    # "é" as one code point and as "e" with a combining accent: equal as Swift strings, but two
    # ids to every store and to the original application, so the caches must keep them apart.
    suffix = uuid.uuid4().hex[:8]
    composed, decomposed = f"caf\u00e9-{suffix}", f"cafe\u0301-{suffix}"
    slots = future_slots(2)
    create_service([slots[0]], name="composed", service_id=composed)
    create_service([slots[1]], name="decomposed", service_id=decomposed)
    for _ in range(6):  # every worker process caches both, whichever answers first
        for service_id, name, slot in ((composed, "composed", slots[0]), (decomposed, "decomposed", slots[1])):
            body = call("GET", "/services/" + quote(service_id)).json()
            assert (body["service_id"], body["service_name"], body["available_slots"]) == (service_id, name, [slot])
    assert_error(call("POST", "/book", json={"service_id": decomposed, "slot": slots[0], "user_name": "u"}), 422, "slot_not_offered")
    assert call("POST", "/book", json={"service_id": decomposed, "slot": slots[1], "user_name": "u"}).status_code == 201
    catalog = {s["service_id"]: s["available_slots"] for s in call("GET", "/services").json()["services"]}
    assert (catalog[composed], catalog[decomposed]) == ([slots[0]], [])
