"""Failures of the parts around the workers: the database restarts, a worker dies, a stop signal."""

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

import pytest

from stack import SUPERVISOR_PID, BACKEND, assert_error, call, create_service, deploy, future_slots, restart_app, wait_until, worker_pids

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL restarts and process signals are tested once, on PostgreSQL")

RUN_DIR = os.environ.get("RUN_DIR", "")


def test_a_database_restart_gives_503s_then_recovers_with_nothing_lost():
    slots = future_slots(400, step_minutes=5)
    service = create_service(slots)
    booked, statuses, stop = [], Counter(), threading.Event()
    pending = list(slots)
    lock = threading.Lock()

    def client():
        with requests.Session() as session:
            while not stop.is_set():
                with lock:
                    if not pending:
                        return
                    slot = pending.pop()
                response = call("POST", "/book", session=session, timeout=30,
                                json={"service_id": service["service_id"], "slot": slot, "user_name": "steady"})
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code == 201:
                        booked.append(response.json())
                    elif response.status_code == 503:
                        assert_error(response, 503, "store_unavailable")
                        pending.insert(0, slot)  # the client tries that slot again later
                time.sleep(0.01)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    deploy("stop_postgres")
    assert wait_until(lambda: call("GET", "/healthz").status_code == 503, 10)
    time.sleep(1)
    deploy("start_postgres")
    assert wait_until(lambda: call("GET", "/healthz").status_code == 200, 20)
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(60)

    assert set(statuses) <= {201, 409, 503}, statuses  # 409: a retried slot whose first try had committed
    assert statuses[503] > 0, statuses
    assert statuses[201] > 20, statuses
    for booking in booked:  # every confirmed booking survived the restart
        shown = {name: value for name, value in booking.items() if name != "manage_token"}
        assert call("GET", f"/bookings/{booking['booking_id']}").json() == shown
    free = set(call("GET", f"/services/{service['service_id']}").json()["available_slots"])
    assert not free & {b["slot"] for b in booked}
    assert call("POST", "/book", json={"service_id": service["service_id"], "slot": sorted(free)[0], "user_name": "after"}).status_code == 201


def test_bookings_right_after_a_database_restart_succeed_on_connections_idle_since():
    # Each worker thread keeps its connection; one idle across the restart fails its first use.
    # The bookings below find the service's definition cached (read within the second), so the
    # first statement on a thread's connection is the commit of a batch it leads: that batch is
    # tried again on a new connection instead of failing the other threads' bookings in it.
    service = create_service(future_slots(24, start_days=211, step_minutes=5))
    slots = service["available_slots"]

    def book(slots):
        with ThreadPoolExecutor(len(slots)) as pool:
            return list(pool.map(lambda slot: call("POST", "/book", json={
                "service_id": service["service_id"], "slot": slot, "user_name": "restart"}).status_code, slots))

    assert book(slots[:8]) == [201] * 8  # every worker process caches the definition
    deploy("stop_postgres", "start_postgres")
    assert book(slots[8:]) == [201] * 16


def service_with_a_held_slot():
    """A new service whose one slot's claim row is held in an open transaction (psql, the third
    value: send it "ROLLBACK;"), so that bookings of the slot wait for the row lock."""
    service = create_service(future_slots(1))
    sid, slot = service["service_id"], service["available_slots"][0]
    holder = subprocess.Popen(["psql", os.environ["DATABASE_URL"], "-v", "ON_ERROR_STOP=1", "-q"], stdin=subprocess.PIPE, text=True)
    holder.stdin.write("BEGIN; INSERT INTO documents VALUES ('slot_claims', '%s@%s', '{}', now(), now());\n" % (sid, slot))
    holder.stdin.flush()
    time.sleep(0.5)
    return sid, slot, holder


def kept_connections():
    """Connections to the workers' socket that are open at the workers' end, as ss lists them."""
    socket_path = os.path.join(RUN_DIR, "booking.sock")
    lines = subprocess.run(["ss", "-xH"], check=True, capture_output=True, text=True).stdout.splitlines()
    return sum(1 for line in lines if line.split()[1:2] == ["ESTAB"] and socket_path in line.split())


def test_nginx_keeps_more_connections_than_there_are_threads_and_none_holds_a_thread():
    # Every booking of the held slot waits in a worker thread, so nginx opens a connection to
    # the workers for each request.
    sid, slot, holder = service_with_a_held_slot()
    clients = 24  # three times the workers' threads (2 x 4)
    with ThreadPoolExecutor(clients) as pool:
        bookings = [pool.submit(call, "POST", "/book", json={"service_id": sid, "slot": slot, "user_name": f"client {number}"})
                    for number in range(clients)]
        time.sleep(1.5)
        holder.communicate("ROLLBACK;\n", timeout=10)
        assert Counter(booking.result().status_code for booking in bookings) == {201: 1, 409: clients - 1}
    assert kept_connections() > 8, "nginx keeps the connections it opened, more than the workers have threads"
    # With libfcgi's usual loop every thread would now wait on an idle kept connection.
    started = time.monotonic()
    assert call("GET", "/healthz", timeout=5).status_code == 200
    assert time.monotonic() - started < 2
    with ThreadPoolExecutor(clients) as pool:
        assert list(pool.map(lambda _: call("GET", "/healthz").status_code, range(clients))) == [200] * clients


def test_a_worker_process_that_dies_is_replaced():
    before = worker_pids()
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)
    assert wait_until(lambda: len(worker_pids()) == 2 and before[0] not in worker_pids())
    assert [call("GET", "/healthz").status_code for _ in range(10)] == [200] * 10


def test_sigterm_finishes_requests_in_flight_and_stops():
    sid, slot, holder = service_with_a_held_slot()  # a booking of the slot waits in the worker
    outcome = {}
    booking = threading.Thread(target=lambda: outcome.update(response=call(
        "POST", "/book", json={"service_id": sid, "slot": slot, "user_name": "in flight"}, timeout=30)))
    booking.start()
    time.sleep(1)
    assert booking.is_alive(), "the booking should be waiting for the row lock"

    supervisor = int(open(SUPERVISOR_PID).read())
    workers = worker_pids()
    os.kill(supervisor, signal.SIGTERM)
    time.sleep(1)
    alive = [pid for pid in workers if os.path.exists(f"/proc/{pid}")]
    assert len(alive) == 1, "the idle worker stops; the busy one finishes its request first"
    assert_error(call("GET", "/healthz"), 502, "bad_gateway")  # nothing accepts new requests

    holder.communicate("ROLLBACK;\n", timeout=10)
    booking.join(30)
    assert outcome["response"].status_code == 201, outcome["response"].text
    assert wait_until(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in [supervisor, *workers]), 15)
    log = open(os.path.join(RUN_DIR, "log", "booking-server.log")).read()
    assert "all worker processes stopped" in log

    restart_app()
    assert wait_until(lambda: call("GET", "/healthz").status_code == 200)
    assert call("GET", f"/bookings/{outcome['response'].json()['booking_id']}").status_code == 200
