"""Webhooks through the outbox: a local receiver (Python's standard library) gets each booking
change once, signed, in order per booking; a refused booking sends nothing; a receiver that is
down for a while gets everything once it is back."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import os
import signal
import subprocess
import tempfile

import pytest

from stack import BACKEND, ROOT, assert_error, book, bookingctl, call, count_documents, create_service, future_slots, restart_app, wait_until, worker_pids

SECRET = "webhook-secret-for-the-tests-0123"


class Receiver:
    """A webhook receiver on a free loopback port: keeps every message, answers 200 (after
    `delay` seconds), or 503 while `down`."""

    def __init__(self):
        self.messages, self.refused, self.down, self.delay, self.lock = [], 0, False, 0.0, threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                with receiver.lock:
                    if receiver.down:
                        receiver.refused += 1
                        self.send_response(503)
                    else:
                        receiver.messages.append((dict(self.headers), body))
                        self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *arguments):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/booking"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, booking_id):
        with self.lock:
            return [(headers, json.loads(body), body) for headers, body in self.messages if json.loads(body)["booking"]["booking_id"] == booking_id]


def readme_signature_checks():
    """README's two ways of checking a signature (its python and sh blocks under Webhooks), as
    functions: genuine(body, signature, secret), and the signature the shell line prints for a body."""
    with open(os.path.join(ROOT, "README.md")) as readme:
        section = readme.read().split("## Webhooks and email", 1)[1].split("\n## ", 1)[0]
    python = section.split("```python\n", 1)[1].split("```", 1)[0]
    shell = section.split("```sh\n", 1)[1].split("```", 1)[0]
    scope = {}
    exec(python, scope)

    def signed_in_shell(body):
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "body.json"), "wb") as file:
                file.write(body)
            return subprocess.run(["bash", "-c", shell], cwd=folder, env={**os.environ, "WEBHOOK_SECRET": SECRET},
                                  capture_output=True, text=True, check=True).stdout.strip()
    return scope["genuine"], signed_in_shell


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver()
    restart_app("wait_for_health", WEBHOOK_URL=receiver.url, WEBHOOK_SECRET=SECRET)
    try:
        yield receiver
    finally:
        restart_app("wait_for_health")
        receiver.server.shutdown()


def test_each_change_is_sent_once_signed_and_in_order_and_a_refused_booking_sends_nothing(receiver):
    service = create_service(future_slots(3, start_days=131))
    sid, slots = service["service_id"], service["available_slots"]
    made = book(sid, slots[0], user_name="Ann", headers={}).json()
    assert_error(book(sid, slots[0], user_name="Bob"), 409, "slot_taken")
    token = {"Authorization": f"Bearer {made['manage_token']}"}
    assert call("POST", f"/bookings/{made['booking_id']}/reschedule", json={"slot": slots[1]}, headers=token).status_code == 200
    assert call("DELETE", f"/bookings/{made['booking_id']}", headers=token).status_code == 200
    assert wait_until(lambda: len(receiver.of(made["booking_id"])) >= 3, 15), receiver.of(made["booking_id"])
    time.sleep(1.5)  # nothing more comes: no duplicate, nothing for the 409
    got = receiver.of(made["booking_id"])
    print(f"messages for the booking: {[message['type'] for _, message, _ in got]}")
    assert [message["type"] for _, message, _ in got] == ["booking.created", "booking.rescheduled", "booking.cancelled"]
    assert [message["booking"]["slot"] for _, message, _ in got] == [slots[0], slots[1], slots[1]]
    assert [message["id"] for _, message, _ in got] == [f"{made['booking_id']}.{n:06d}" for n in range(3)]
    readme_python, readme_shell = readme_signature_checks()
    for headers, message, body in got:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Booking-Signature"], expected)
        assert readme_python(body, headers["X-Booking-Signature"], SECRET), "README's Python check accepts it"
        assert not readme_python(body + b" ", headers["X-Booking-Signature"], SECRET)
        assert readme_shell(body) == headers["X-Booking-Signature"], "README's shell line computes it"
        assert headers["X-Booking-Event-Id"] == message["id"] and headers["Content-Type"] == "application/json"
        assert "email" not in message["booking"] and "manage_token" not in body.decode()
        assert message["created_at"].endswith("Z")
    with receiver.lock:
        assert not any(json.loads(body)["booking"]["user_name"] == "Bob" for _, body in receiver.messages), "the 409 sent nothing"
    assert count_documents("booking_events", sid) == 0, "delivered events leave the outbox"
    assert count_documents("booking_events_delivered", sid) == 3


def test_a_cancellation_by_the_operator_is_sent_too(receiver):
    service = create_service(future_slots(1, start_days=139))
    made = book(service["service_id"], service["available_slots"][0], user_name="Operator's").json()
    cancelled = bookingctl("bookings", "cancel", made["booking_id"], WEBHOOK_URL=receiver.url, WEBHOOK_SECRET=SECRET)
    assert cancelled.returncode == 0, cancelled.stderr
    assert wait_until(lambda: len(receiver.of(made["booking_id"])) >= 2, 15)
    assert [message["type"] for _, message, _ in receiver.of(made["booking_id"])] == ["booking.created", "booking.cancelled"]


def test_a_receiver_down_for_a_while_gets_everything_once_it_is_back(receiver):
    service = create_service(future_slots(4, start_days=133))
    sid, slots = service["service_id"], service["available_slots"]
    with receiver.lock:
        receiver.down, refused_before = True, receiver.refused
    made = [book(sid, slot, user_name=f"Client {n}").json() for n, slot in enumerate(slots)]
    assert wait_until(lambda: receiver.refused - refused_before >= 4, 10), "each event tried while the receiver was down"
    listed = bookingctl("events", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    waiting = {row["event_id"]: row for row in json.loads(listed.stdout)}
    for m in made:
        row = waiting[f"{m['booking_id']}.000000"]
        assert row["type"] == "booking.created" and row["last_error"] == "HTTP 503" and int(row["attempts"]) >= 1, row
    time.sleep(2)
    with receiver.lock:
        receiver.down = False
        refused = receiver.refused - refused_before
    assert wait_until(lambda: all(len(receiver.of(m["booking_id"])) == 1 for m in made), 30)
    time.sleep(1.5)
    print(f"receiver down about 3 s: {refused} refused attempts, then {sum(len(receiver.of(m['booking_id'])) for m in made)} delivered once each")
    assert all(len(receiver.of(m["booking_id"])) == 1 for m in made)
    assert count_documents("booking_events", sid) == 0
    kept = {row["event_id"]: row for row in json.loads(bookingctl("events", "list", "--delivered", "--json").stdout)}
    assert all(kept[f"{m['booking_id']}.000000"]["state"] == "delivered" for m in made)
    retried = bookingctl("events", "retry", f"{made[0]['booking_id']}.000000")
    assert retried.returncode == 0 and b"not a failed event of the outbox" in retried.stderr, "a delivered event is not sent again"


def test_the_outbox_survives_a_kill_of_every_worker_mid_delivery(receiver):
    # Each message takes the receiver 3 s: every worker is killed while one is being sent. That
    # one was received and never marked delivered: it goes again, with the same id, once its
    # lease (30 s) runs out. Nothing is lost, and the outbox empties.
    service = create_service(future_slots(3, start_days=137))
    sid, slots = service["service_id"], service["available_slots"]
    with receiver.lock:
        receiver.delay, before = 3.0, len(receiver.messages)
    made = [book(sid, slot, user_name=f"Client {n}").json()["booking_id"] for n, slot in enumerate(slots)]
    time.sleep(1.5)  # a worker's delivery thread is now waiting for the receiver
    killed = worker_pids()
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: len(worker_pids()) == 2 and not set(worker_pids()) & set(killed), 15)
    with receiver.lock:
        receiver.delay = 0.0
    assert wait_until(lambda: count_documents("booking_events", sid) == 0, 60), "every event delivered after the lease ran out"
    received = {booking_id: [message["id"] for _, message, _ in receiver.of(booking_id)] for booking_id in made}
    print(f"workers killed mid-delivery: received per booking {[len(ids) for ids in received.values()]}, "
          f"{len(receiver.messages) - before} messages in all, outbox empty")
    assert all(ids and set(ids) == {f"{booking_id}.000000"} for booking_id, ids in received.items()), received
    assert count_documents("booking_events_delivered", sid) == 3
