"""Failures of the parts around the workers: the database restarts, a worker dies, a stop signal."""

import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

import pytest

from stack import (SUPERVISOR_PID, BACKEND, as_read, assert_error, call, check_store, count_documents, create_service, deploy, future_slots, restart_app,
                   sql, wait_until, worker_pids)

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL restarts and process signals are tested once, on PostgreSQL")

RUN_DIR = os.environ.get("RUN_DIR", "")


# PostgreSQL stopped cleanly (fast: sessions told, connections closed), at once (immediate: no
# message, as after a crash; libpq then reports a lost connection without a SQLSTATE), or its
# postmaster killed (-9: its backends see it gone and exit; the next start recovers from the WAL).
KILL_POSTMASTER = """\
postmaster=$(head -1 "$PG_DIR/data/postmaster.pid")
children=$(cat "/proc/$postmaster/task/$postmaster/children")
kill -KILL "$postmaster"
for child in $children; do
    for _ in $(seq 200); do kill -0 "$child" 2>/dev/null || break; sleep 0.05; done
done"""
RESTARTS = {
    "fast": ("stop_postgres", "start_postgres"),
    "immediate": ('as_db_user "$(pg_bin pg_ctl)" stop -D "$PG_DIR/data" -m immediate -w >/dev/null', "start_postgres"),
    "postmaster killed": (KILL_POSTMASTER, "start_postgres"),
}
DAYS = {"fast": 17, "immediate": 93, "postmaster killed": 151}


@pytest.mark.parametrize("mode", RESTARTS)
def test_a_database_restart_gives_503s_then_recovers_with_nothing_lost(mode):
    slots = future_slots(400, start_days=DAYS[mode], step_minutes=5)
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
    deploy(RESTARTS[mode][0])
    assert wait_until(lambda: call("GET", "/healthz").status_code == 503, 10)
    time.sleep(1)
    deploy(RESTARTS[mode][1])
    assert wait_until(lambda: call("GET", "/healthz").status_code == 200, 20)
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(60)

    print(f"PostgreSQL {mode} restart under load: {dict(statuses)}")
    assert set(statuses) <= {201, 409, 503}, statuses  # 409: a retried slot whose first try had committed
    assert statuses[503] > 0, statuses
    assert statuses[201] > 20, statuses
    for booking in booked:  # every confirmed booking survived the restart
        shown = as_read(booking)
        assert call("GET", f"/bookings/{booking['booking_id']}").json() == shown
    free = set(call("GET", f"/services/{service['service_id']}").json()["available_slots"])
    assert not free & {b["slot"] for b in booked}
    assert call("POST", "/book", json={"service_id": service["service_id"], "slot": sorted(free)[0], "user_name": "after"}).status_code == 201


@pytest.mark.parametrize("mode", RESTARTS)
def test_bookings_right_after_a_database_restart_succeed_on_connections_idle_since(mode):
    # Each worker thread keeps its connection; one idle across the restart fails its first use.
    # The bookings below find the service's definition cached (read within the second), so the
    # first statement on a thread's connection is the commit of a batch it leads: that batch is
    # tried again on a new connection instead of failing the other threads' bookings in it.
    service = create_service(future_slots(24, start_days=DAYS[mode] + 60, step_minutes=5))
    slots = service["available_slots"]

    def book(slots):
        with ThreadPoolExecutor(len(slots)) as pool:
            return list(pool.map(lambda slot: call("POST", "/book", json={
                "service_id": service["service_id"], "slot": slot, "user_name": "restart"}).status_code, slots))

    assert book(slots[:8]) == [201] * 8  # every worker process caches the definition
    deploy(*RESTARTS[mode])
    assert book(slots[8:]) == [201] * 16


def postgres_processes():
    """The postmaster and its children (backends, background workers)."""
    postmaster = int(open(os.path.join(RUN_DIR, "postgres", "data", "postmaster.pid")).readline())
    with open(f"/proc/{postmaster}/task/{postmaster}/children") as children:
        return [postmaster] + [int(pid) for pid in children.read().split()]


def test_a_stalled_database_gets_503_within_the_timeout_and_nothing_applied_afterwards():
    # Stopped with SIGSTOP: connections stay open, nothing answers, nothing fails; as a server
    # that hangs or a network that drops packets without resets.
    timeout = 1.0
    restart_app("wait_for_health", DATABASE_TIMEOUT_MS=str(int(timeout * 1000)))
    try:
        service = create_service(future_slots(4, start_days=71))
        sid = service["service_id"]
        assert call("GET", f"/services/{sid}").status_code == 200  # the definition is cached by now
        stalled = postgres_processes()
        for pid in stalled:
            os.kill(pid, signal.SIGSTOP)
        try:
            def timed(method, path, **kwargs):
                started = time.monotonic()
                response = call(method, path, timeout=30, **kwargs)
                return response, time.monotonic() - started

            # At most 4 requests at once, the threads of one worker process: nginx may hand every
            # request to one process, and a fifth would wait for a thread first.
            with ThreadPoolExecutor(4) as pool:
                bookings = [pool.submit(timed, "POST", "/book", json={"service_id": sid, "slot": slot, "user_name": "stalled"})
                            for slot in service["available_slots"]]
                answers = [future.result() for future in bookings]
                health = pool.submit(timed, "GET", "/healthz")
                ready = pool.submit(timed, "GET", "/readyz")
                answers += [health.result(), ready.result()]
        finally:
            for pid in stalled:
                os.kill(pid, signal.SIGCONT)
        print(f"PostgreSQL stalled, DATABASE_TIMEOUT_MS={int(timeout * 1000)}: "
              f"{[(response.status_code, round(took, 2)) for response, took in answers]}")
        for response, took in answers[:len(bookings)]:
            assert_error(response, 503, "store_unavailable")
            assert response.headers["Retry-After"] == "1"
        assert answers[-2][0].status_code == 503 and answers[-2][0].json()["status"] == "unavailable"
        assert answers[-1][0].status_code == 503 and answers[-1][0].json()["status"] == "unavailable"
        # The timeout, the half second a commit's answer is still awaited, and a second for the
        # machine.
        assert max(took for _, took in answers) < timeout + 0.5 + 1.0, answers
        # The commits sent before the stall reached PostgreSQL after it: none is applied.
        assert wait_until(lambda: call("GET", "/healthz").status_code == 200, 10)
        time.sleep(timeout)
        lost_or_late = count_documents("bookings", sid)
        print(f"bookings tried: {len(bookings)}, answered 503: {len(bookings)}, stored afterwards: {lost_or_late}")
        assert lost_or_late == 0
        assert call("GET", f"/services/{sid}").json()["available_slots"] == service["available_slots"]
        assert book_slot(sid, service["available_slots"][0]).status_code == 201
    finally:
        restart_app("wait_for_health")


def book_slot(service_id, slot):
    return call("POST", "/book", json={"service_id": service_id, "slot": slot, "user_name": "after the stall"})


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
    """Connections to the workers' socket that are open at the workers' end, as ss lists them
    (by the name the socket was bound to: the path and the server's process id, renamed since)."""
    bound = re.compile(re.escape(os.path.join(RUN_DIR, "socket", "booking.sock")) + r"(\.[0-9]+)?")
    lines = subprocess.run(["ss", "-xH"], check=True, capture_output=True, text=True).stdout.splitlines()
    return sum(1 for line in lines if line.split()[1:2] == ["ESTAB"] and any(bound.fullmatch(word) for word in line.split()))


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


class SteadyClients:
    """Clients booking distinct slots of a service (`bookers`, two by default) and reading it
    (two), until stopped; every answer's status counted. A booking goes with an Idempotency-Key and is tried again
    with it until it has a definite answer (a 502 from a worker killed mid-request, a 503 while
    the store is away, a 409 while the key's first request is still held), as a careful client
    would; `check_the_store` then compares what the clients were told with what was stored."""

    RETRIED = {502, 503, 504}

    def __init__(self, slots=1500, bookers=2, pause=0.01):
        self.service = create_service(future_slots(slots, start_days=random_days(), step_minutes=5))
        self.statuses, self.stop, self.lock = Counter(), threading.Event(), threading.Lock()
        self.pending = list(self.service["available_slots"])
        self.booked, self.tries, self.retried, self.longest = {}, 0, 0, 0.0
        self.pause = pause
        self.threads = [threading.Thread(target=self.client, args=(booking,)) for booking in [True] * bookers + [False] * 2]

    def client(self, booking):
        sid = self.service["service_id"]
        with requests.Session() as session:
            while not self.stop.is_set():
                if booking:
                    with self.lock:
                        slot = self.pending.pop() if self.pending else None
                    if slot is None:
                        return
                    self.book(session, slot)
                else:
                    response = call("GET", f"/services/{sid}", session=session)
                    with self.lock:
                        self.statuses[response.status_code] += 1
                time.sleep(self.pause)

    def book(self, session, slot):
        """Books `slot` under a key of its own (also the booking's user name), trying again until
        the answer is definite (at most a minute)."""
        key = uuid.uuid4().hex
        body = {"service_id": self.service["service_id"], "slot": slot, "user_name": key}
        with self.lock:
            self.tries += 1
        first_try = time.monotonic()
        deadline = first_try + 60
        while True:
            try:
                response = call("POST", "/book", session=session, json=body, headers={"Idempotency-Key": key})
            except requests.ConnectionError:
                response = None
            status = response.status_code if response is not None else "no answer"
            with self.lock:
                self.statuses[status] += 1
            held = status == 409 and response.json()["error"]["code"] == "idempotency_key_in_use"
            if (status in self.RETRIED or status == "no answer" or held) and time.monotonic() < deadline:
                with self.lock:
                    self.retried += 1
                time.sleep(float(response.headers.get("Retry-After", "0.05")) if response is not None else 0.05)
                continue
            assert status == 201, (status, response.text if response is not None else "")
            with self.lock:
                self.booked[response.json()["booking_id"]] = response.json()
                self.longest = max(self.longest, time.monotonic() - first_try)
            return

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exception):
        time.sleep(0.5)
        self.stop.set()
        for thread in self.threads:
            thread.join(90)

    def check_the_store(self, what):
        """Prints and checks what was lost: bookings answered 201 and not stored, made twice (one
        key, two bookings), or stored without a 201 (a client that gave up on a booking made)."""
        stored = check_store(self.service["service_id"])
        per_key = Counter(booking["user_name"] for booking in stored)
        stored_ids = {booking["booking_id"] for booking in stored}
        lost = set(self.booked) - stored_ids
        twice = sum(count - 1 for count in per_key.values() if count > 1)
        unanswered = stored_ids - set(self.booked)
        print(f"{what}: answers {dict(self.statuses)}; bookings tried {self.tries}, tried again {self.retried} times, "
              f"booked {len(self.booked)} (the longest in {self.longest:.2f} s), stored {len(stored)}; "
              f"lost {len(lost)}, made twice {twice}, stored without a 201 {len(unanswered)}")
        assert not lost and not twice and not unanswered
        assert len(self.booked) == self.tries
        for booking_id, made in list(self.booked.items())[:20]:
            assert call("GET", f"/bookings/{booking_id}").json() == as_read(made)


def random_days():
    return int.from_bytes(os.urandom(2), "big") % 250


def test_starting_the_server_again_replaces_its_workers_without_a_failed_request():
    # What deploy/up run again does: the new server puts its socket at the path, the old stops.
    replaced = []
    with SteadyClients() as clients:
        for _ in range(2):
            supervisor, workers = int(open(SUPERVISOR_PID).read()), worker_pids()
            restart_app()
            replaced += [supervisor, *workers]
            time.sleep(1)
    clients.check_the_store("two restarts under load")
    assert set(clients.statuses) == {200, 201}, clients.statuses
    assert not [pid for pid in replaced if os.path.exists(f"/proc/{pid}")], "the replaced processes stopped"
    assert int(open(SUPERVISOR_PID).read()) not in replaced and len(worker_pids()) == 2


def test_workers_serve_on_when_their_supervisor_is_killed_and_the_next_start_replaces_them():
    supervisor, workers = int(open(SUPERVISOR_PID).read()), worker_pids()
    with SteadyClients() as clients:
        os.kill(supervisor, signal.SIGKILL)
        time.sleep(2)
        orphaned = dict(clients.statuses)
        assert all(os.path.exists(f"/proc/{pid}") for pid in workers), "the workers outlive their supervisor"
        restart_app()
        assert wait_until(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in workers), 15)
    print(f"supervisor killed: {orphaned} while its workers were orphaned")
    clients.check_the_store("supervisor killed (-9), then the server started again, under load")
    assert set(clients.statuses) == {200, 201}, clients.statuses
    assert call("GET", "/healthz").status_code == 200


def test_worker_processes_killed_during_a_booking_run_lose_no_booking_and_make_none_twice():
    # The requests in flight on a killed process get 502 from nginx; their clients try again
    # with their keys: a booking committed before the kill is answered as first made (its kept
    # response is in its commit), one not committed is made by the retry, at once: the key names
    # the killed process as its holder, which the retry finds gone (not after the 30 s lease).
    kills = 0
    with SteadyClients(bookers=8, pause=0) as clients:  # at least one booking in flight most of the time
        for _ in range(4):
            victims = worker_pids()
            os.kill(victims[kills % 2], signal.SIGKILL)
            kills += 1
            assert wait_until(lambda: len(worker_pids()) == 2 and victims[(kills - 1) % 2] not in worker_pids())
            time.sleep(0.5)
    clients.check_the_store(f"worker processes killed (-9) {kills} times during a booking run")
    assert set(clients.statuses) <= {200, 201, 409, 502, "no answer"}, clients.statuses
    assert clients.longest < 5, "a retry waited for the key's lease instead of seeing its holder gone"


def test_a_repeat_runs_at_once_when_the_worker_holding_its_key_was_killed():
    # A booking with a key waits on a held claim when every worker process is killed: its key
    # stays pending, naming the killed process, and its commit fails once the claim's holder
    # commits (the slot is taken). nginx sends the request again to the new workers (or
    # answers 502, and the client tries again): the repeat finds the key's holder gone and runs
    # at once, so its answer is the slot's, 409 slot_taken. Otherwise it would wait for the
    # key's first request (10 s, then 409 idempotency_key_in_use) until the key's 30 s lease.
    sid, slot, holder = service_with_a_held_slot()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"service_id": sid, "slot": slot, "user_name": "killed mid-request"}
    first = {}
    booking = threading.Thread(target=lambda: first.update(response=call("POST", "/book", json=body, headers=key)))
    booking.start()
    time.sleep(1)
    victims = worker_pids()
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    time.sleep(0.5)
    holder.communicate("COMMIT;\n", timeout=10)
    booking.join(30)
    answers = [first["response"]]
    if answers[0].status_code == 502:
        answers.append(call("POST", "/book", json=body, headers=key))
    took = time.monotonic() - killed
    print(f"a booking whose worker was killed mid-request: answers {[(a.status_code, a.json()['error']['code']) for a in answers]}, "
          f"the last {took:.2f} s after the kill")
    assert_error(answers[-1], 409, "slot_taken")
    assert took < 5
    sql("DELETE FROM documents WHERE collection = 'slot_claims' AND id = '%s@%s'" % (sid, slot))  # the holder's, not a booking's
    assert count_documents("bookings", sid) == 0
