"""The Firestore backend when Firestore misbehaves: transient errors are retried within bounds,
a commit that timed out but happened is recognised, and the client gets a 503, never a hang or
a double booking. These go through nginx to the workers, which run on the test server."""

import time

import pytest

from server_control import control
from stack import assert_error, book, count_documents, create_service, future_slots

pytestmark = pytest.mark.usefixtures("no_faults")


@pytest.fixture
def no_faults():
    control("DELETE", "faults")
    yield
    control("DELETE", "faults")


def test_aborted_commits_are_retried():
    service = create_service(future_slots(1))
    control("POST", "faults", json={"status": "ABORTED", "count": 2, "methods": ["commit"]})
    response = book(service["service_id"], service["available_slots"][0])
    assert response.status_code == 201, response.text
    assert count_documents("slot_claims", service["service_id"]) == 1


def test_a_lasting_outage_gives_503_in_bounded_time_and_writes_nothing():
    service = create_service(future_slots(1))
    control("POST", "faults", json={"status": "UNAVAILABLE", "count": 1000, "methods": ["commit"]})
    started = time.monotonic()
    assert_error(book(service["service_id"], service["available_slots"][0]), 503, "store_unavailable")
    assert time.monotonic() - started < 10
    control("DELETE", "faults")
    assert count_documents("slot_claims", service["service_id"]) == 0
    assert book(service["service_id"], service["available_slots"][0]).status_code == 201


def test_internal_is_retried_once_only():
    service = create_service(future_slots(2))
    control("POST", "faults", json={"status": "INTERNAL", "count": 1, "methods": ["commit"]})
    assert book(service["service_id"], service["available_slots"][0]).status_code == 201
    control("POST", "faults", json={"status": "INTERNAL", "count": 2, "methods": ["commit"]})
    assert_error(book(service["service_id"], service["available_slots"][1]), 503, "store_unavailable")  # no third try


def test_a_commit_that_timed_out_but_happened_is_not_a_conflict_with_itself():
    service = create_service(future_slots(1))
    control("POST", "faults", json={"status": "DEADLINE_EXCEEDED", "count": 1, "methods": ["commit"], "after": True})
    response = book(service["service_id"], service["available_slots"][0])
    assert response.status_code == 201, response.text
    assert count_documents("bookings", service["service_id"]) == 1
    assert count_documents("slot_claims", service["service_id"]) == 1
    assert_error(book(service["service_id"], service["available_slots"][0], "Bob"), 409, "slot_taken")


def test_a_slow_firestore_times_out_into_a_503_not_a_hang():
    service = create_service(future_slots(1))
    control("POST", "faults", json={"status": "UNAVAILABLE", "count": 3, "methods": ["commit"], "delay_seconds": 3})
    started = time.monotonic()
    assert_error(book(service["service_id"], service["available_slots"][0]), 503, "store_unavailable")
    assert time.monotonic() - started < 12
    assert count_documents("slot_claims", service["service_id"]) == 0
