"""Many clients at once through nginx: more connections than the 2 x 4 worker threads."""

import socket
import ssl
from collections import Counter
from urllib.parse import urlparse

from stack import BASE, CA, as_read, at_once, call, count_documents, create_service, future_slots


def race(requests_to_send):
    """Sends every (service_id, slot, user) at once, each on its own connection; returns the responses."""
    return at_once(*[
        (lambda session, service_id=service_id, slot=slot, user=user:
         call("POST", "/book", session=session, timeout=60, json={"service_id": service_id, "slot": slot, "user_name": user}))
        for service_id, slot, user in requests_to_send
    ])


def test_200_clients_racing_for_one_slot_make_exactly_one_booking():
    service = create_service(future_slots(1))
    sid, slot = service["service_id"], service["available_slots"][0]
    responses = race([(sid, slot, f"client {i}") for i in range(200)])
    statuses = Counter(getattr(r, "status_code", repr(r)) for r in responses)
    assert statuses == {201: 1, 409: 199}, statuses
    assert all(r.json()["error"]["code"] == "slot_taken" for r in responses if r.status_code == 409)
    winner = as_read(next(r.json() for r in responses if r.status_code == 201))
    assert call("GET", f"/bookings/{winner['booking_id']}").json() == winner
    assert count_documents("bookings", sid) == 1
    assert count_documents("slot_claims", sid) == 1
    assert call("GET", f"/services/{sid}").json()["available_slots"] == []


def test_clients_booking_different_slots_all_succeed():
    slots = future_slots(120, step_minutes=15)
    service = create_service(slots)
    responses = race([(service["service_id"], slot, f"client {i}") for i, slot in enumerate(slots)])
    statuses = Counter(getattr(r, "status_code", repr(r)) for r in responses)
    assert statuses == {201: 120}, statuses
    assert sorted(r.json()["slot"] for r in responses) == slots
    assert call("GET", f"/services/{service['service_id']}").json()["available_slots"] == []


def test_clients_that_hang_up_mid_request_do_not_hurt_the_workers():
    target = urlparse(BASE)
    context = ssl.create_default_context(cafile=CA)
    for i in range(60):
        with socket.create_connection((target.hostname, target.port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                if i % 2:
                    tls.sendall(b"GET /services HTTP/1.1\r\nHost: localhost\r\n\r\n")
                else:  # a declared body that never arrives
                    tls.sendall(b"POST /book HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                                b"Content-Length: 500\r\n\r\n{\"service_id\":")
    responses = [call("GET", "/healthz", timeout=10) for _ in range(20)]
    assert [r.status_code for r in responses] == [200] * 20
