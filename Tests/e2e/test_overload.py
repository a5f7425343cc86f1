"""A crowd: 2,000 clients at once through nginx (wrk), on a booking and on a service's page. Every
answer must be one the API documents (2xx, 409, or nginx's immediate 503 JSON with Retry-After),
never a 502 from a refused connection, and the workers must never run out of descriptors. And
500 slow clients (slowloris), which must not slow anyone else down."""

import asyncio
import json
import os
import resource
import ssl
import subprocess
import threading
import time
from collections import Counter

import pytest
import requests

from stack import BACKEND, BASE, CA, ROOT, RUN_DIR, call, check_store, count_documents, create_service, future_slots

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="the crowd is sent once, on PostgreSQL")

CLIENTS, SECONDS = 2000, 3


def more_descriptors():
    """wrk needs one descriptor per connection: up to the hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CLIENTS + 256 if hard == resource.RLIM_INFINITY else min(hard, CLIENTS + 256)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def size(*path):
    return os.path.getsize(os.path.join(RUN_DIR, *path))


def crowd(method, path, body=None):
    """wrk with CLIENTS connections for SECONDS; its counted statuses and errors, and nginx's
    access log lines (split into fields) and error log for the run."""
    logs = {name: size(*name.split("/")) for name in ("nginx/access.log", "nginx/error.log", "log/booking-server.log")}
    with open(os.path.join(ROOT, "nginx", "errors", "503.json")) as page:
        shed_body = page.read()
    environment = {**os.environ, "OVERLOAD_METHOD": method, "OVERLOAD_PATH": path, "OVERLOAD_SHED_BODY": shed_body,
                   "LOAD_THREADS": "2"}
    if body is not None:
        environment["OVERLOAD_BODY"] = json.dumps(body)
    run = subprocess.run(["wrk", "-t2", f"-c{CLIENTS}", f"-d{SECONDS}s", "--timeout", "10s",
                          "-s", os.path.join(ROOT, "Tests", "e2e", "overload.lua"), BASE + path],
                         env=environment, capture_output=True, text=True, timeout=120, preexec_fn=more_descriptors)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("WRK_RESULT "))[len("WRK_RESULT "):])
    written = {}
    for name, offset in logs.items():
        with open(os.path.join(RUN_DIR, *name.split("/")), "rb") as log:
            log.seek(offset)
            written[name] = log.read().decode(errors="replace")
    lines = [line.split() for line in written["nginx/access.log"].splitlines() if f'"{method} {path} ' in line]
    return result, lines, written


def check(result, lines, logs, allowed):
    """Only documented answers; nginx's 503s (its JSON page with Retry-After, as wrk counted them)
    given at once without asking the workers; nothing refused or out of descriptors."""
    statuses = {status: count for status, count in result["statuses"].items()}
    shed = [line for line in lines if line[8] == "503"]
    slowest_shed = max((float(line[-2]) for line in shed), default=0)
    print(f"{CLIENTS} clients for {SECONDS} s: {statuses}, wrk errors {result['errors']}, "
          f"slowest 503 {slowest_shed * 1000:.0f} ms")
    assert statuses, "no answer at all: the crowd did not get through its TLS handshakes in time"
    assert set(statuses) <= {str(status) for status in allowed}, statuses
    assert result["errors"]["connect"] == 0 and result["errors"]["timeout"] == 0, result["errors"]
    assert all(line[-1] == "-" for line in shed), shed[:3]  # no upstream: nginx's own
    assert slowest_shed < 0.1
    assert "Resource temporarily unavailable" not in logs["nginx/error.log"]
    assert "connect() to" not in logs["nginx/error.log"]
    assert "accepting a connection failed" not in logs["log/booking-server.log"]


def test_a_crowd_booking_one_slot_gets_one_201_and_409s_or_immediate_503s():
    service = create_service(future_slots(1, start_days=149))
    body = {"service_id": service["service_id"], "slot": service["available_slots"][0], "user_name": "one of a crowd"}
    result, lines, logs = crowd("POST", "/book", body)
    check(result, lines, logs, allowed={201, 409, 503})
    # wrk may leave before the one 201 reaches it (its last connections close mid-request).
    assert result["statuses"].get("201", 0) <= 1 and result["statuses"].get("409", 0) > 0, result["statuses"]
    assert count_documents("bookings", service["service_id"]) == 1


def test_a_crowd_reading_a_service_gets_200s_or_immediate_503s():
    service = create_service(future_slots(40, start_days=151))
    result, lines, logs = crowd("GET", f"/services/{service['service_id']}")
    check(result, lines, logs, allowed={200, 503})
    assert result["statuses"].get("200", 0) > CLIENTS, result["statuses"]  # most are served, not shed


SLOW_CLIENTS, HEADER_TIMEOUT = 500, 10  # nginx.conf's client_header_timeout and client_body_timeout


async def slow_client(kind, ready, closed_after):
    """One slowloris connection: TLS, then a request's headers (kind "headers") or, after whole
    headers, its body (kind "body"), a few bytes a second, until nginx closes the connection;
    how long that took is put in `closed_after`."""
    context = ssl.create_default_context(cafile=CA) if CA else ssl._create_unverified_context()
    host, port = BASE.split("//")[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port), ssl=context, server_hostname="localhost")
    if kind == "headers":
        writer.write(b"GET /services HTTP/1.1\r\nHost: localhost\r\n")
    else:
        writer.write(b"POST /book HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{")
    await writer.drain()
    ready.release()
    started = time.monotonic()
    try:
        while True:
            # Headers trickle in until their deadline; a body stalls after a few bytes.
            if kind == "headers" or time.monotonic() - started < 2:
                writer.write(b"X-Slow: 1\r\n" if kind == "headers" else b" ")
                await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(1024), 1) == b"":
                    break
            except asyncio.TimeoutError:
                continue
    except (ConnectionError, ssl.SSLError):
        pass
    closed_after.append((kind, time.monotonic() - started))
    writer.close()


def test_slow_clients_hold_no_worker_and_are_cut_off_while_others_are_served():
    service = create_service(future_slots(30, start_days=163))
    sid = service["service_id"]
    ready, closed_after = threading.Semaphore(0), []
    kinds = ["headers", "body"] * (SLOW_CLIENTS // 2)

    async def crowd():
        await asyncio.gather(*(slow_client(kind, ready, closed_after) for kind in kinds))

    slow = threading.Thread(target=lambda: asyncio.run(crowd()))
    slow.start()
    for _ in kinds:
        assert ready.acquire(timeout=60), "a slow client could not connect"
    # Meanwhile, other clients book and read as usual, each answered at once.
    answers = []
    with requests.Session() as session:
        for number, slot in enumerate(service["available_slots"]):
            for method, path, body in (("POST", "/book", {"service_id": sid, "slot": slot, "user_name": f"while slow {number}"}),
                                       ("GET", f"/services/{sid}", None)):
                started = time.monotonic()
                response = call(method, path, session=session, json=body)
                answers.append((response.status_code, time.monotonic() - started))
    slow.join(HEADER_TIMEOUT + 20)
    slowest = max(took for _, took in answers)
    cut = Counter(kind for kind, _ in closed_after)
    print(f"{SLOW_CLIENTS} slow clients (half trickling headers, half stalling in a body): {len(answers)} other requests "
          f"answered {dict(Counter(status for status, _ in answers))}, slowest {slowest * 1000:.0f} ms; "
          f"slow clients cut off by nginx: {dict(cut)}, after {min(t for _, t in closed_after):.1f}-{max(t for _, t in closed_after):.1f} s")
    assert Counter(status for status, _ in answers) == {201: 30, 200: 30}
    assert slowest < 1.0
    assert not slow.is_alive() and cut == {"headers": SLOW_CLIENTS // 2, "body": SLOW_CLIENTS // 2}
    assert all(took < HEADER_TIMEOUT + 5 for _, took in closed_after), closed_after  # not the 60 s of nginx's defaults
    assert check_store(sid) and count_documents("bookings", sid) == 30
