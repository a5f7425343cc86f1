"""The original application's data, and its live writes, served as they are and never double-booked.

Data is written as the original Python application wrote it (Google's own client, through the
stand-in in Tests/legacy), into a Firestore project of this module's own; the booking server is
then restarted on that project with EXTERNAL_WRITERS=1 and LEGACY_SLOT_TIME_ZONE=Europe/Berlin,
as a user moving from the original application would run it, and put back afterwards."""

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests
from google.cloud.firestore_v1 import GeoPoint

from server_control import SERVER, run_bookingctl
from stack import ROOT, assert_error, book, call, restart_app, sql

sys.path.insert(0, os.path.join(ROOT, "Tests", "legacy"))
from original_app import make_client  # noqa: E402

PROJECT = f"legacy-{uuid.uuid4().hex[:8]}"
LOG = os.path.join(os.environ.get("RUN_DIR", ""), "log", "booking-server.log")
SETTINGS = {"GOOGLE_CLOUD_PROJECT": PROJECT, "EXTERNAL_WRITERS": "1", "LEGACY_SLOT_TIME_ZONE": "Europe/Berlin"}
ISO = ["2031-03-04T11:00:00+00:00", "2031-03-04T12:00:00+00:00", "2031-03-04T13:00:00+00:00", "2031-03-04T14:00:00+00:00"]


def booking(service_id, slot, name="Old customer", booking_id=None):
    booking_id = booking_id or str(uuid.uuid4())
    return booking_id, {"booking_id": booking_id, "service_id": service_id, "slot": slot, "user_name": name,
                        "timestamp": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)}


@pytest.fixture(scope="module")
def db():
    """The original application's data, then the booking server restarted on it."""
    client = make_client(PROJECT, SERVER)
    services, bookings = client.collection("services"), client.collection("bookings")
    services.document("iso").set({"service_id": "iso", "service_name": "Spelled by isoformat()", "available_slots": ISO})
    for booking_id, fields in [booking("iso", ISO[0], booking_id="old-1"), booking("iso", ISO[2], booking_id="twice-a"),
                               booking("iso", ISO[2], booking_id="twice-b")]:
        bookings.document(booking_id).set(fields)
    services.document("naive").set({"service_id": "naive", "service_name": "Local times",
                                    "available_slots": ["2031-03-04T12:00:00", "2031-03-04 09:00", "09:00 AM"]})
    services.document("odd").set({"service_id": "odd", "service_name": "Odd fields", "available_slots": ["2031-03-05T09:00:00Z"],
                                  "where": GeoPoint(52.52, 13.405), "owner": client.document("owners/o1"), "logo": b"\x89PNG"})
    services.document("broken").set({"service_id": "broken", "service_name": 42, "available_slots": ["2031-03-05T09:00:00Z"]})
    _, added = services.add({"service_id": "added", "service_name": "Added with add()", "available_slots": ["2031-03-06T09:00:00Z"]})
    _, added_booking = bookings.add(booking("added", "2031-03-06T09:00:00Z", booking_id="by-field")[1])
    odd_id, odd_booking = booking("odd", "2031-03-05T09:00:00Z", booking_id="odd-booking")
    bookings.document(odd_id).set({**odd_booking, "location": GeoPoint(1.5, 2.5), "tags": ["a", {"k": b"\x00"}]})
    log_start = os.path.getsize(LOG)
    restart_app("wait_for_health", **SETTINGS)
    yield client, log_start, added.id, added_booking.id
    restart_app("wait_for_health")


def server_log(since):
    """The messages of the server's log lines (one JSON object each) since `since`, one a line."""
    with open(LOG) as log:
        log.seek(since)
        return "\n".join(json.loads(line)["message"] for line in log.read().splitlines() if line.startswith("{"))


def free_slots(service_id):
    return call("GET", f"/services/{service_id}").json()["available_slots"]


def test_a_slot_the_original_booked_is_taken_from_the_first_request(db):
    assert "2031-03-04T11:00:00Z" not in free_slots("iso")
    assert "2031-03-04T11:00:00Z" not in next(s for s in call("GET", "/services").json()["services"] if s["service_id"] == "iso")["available_slots"]
    for spelling in ("2031-03-04T11:00:00Z", ISO[0]):
        assert_error(book("iso", spelling), 409, "slot_taken")


def test_a_booking_made_here_keeps_the_services_spelling_so_the_original_sees_it(db, original_app):
    client = db[0]
    made = book("iso", "2031-03-04T12:00:00Z")
    assert made.status_code == 201 and made.json()["slot"] == "2031-03-04T12:00:00Z"
    stored = client.collection("bookings").document(made.json()["booking_id"]).get().to_dict()
    assert stored["slot"] == ISO[1]
    assert original_app(False).post("/book", {"service_id": "iso", "slot": ISO[1], "user_name": "Other"}).status_code == 409


def test_slots_are_read_in_the_legacy_zone_and_those_without_a_date_are_reported(db):
    # Europe/Berlin is UTC+1 in March 2031.
    assert free_slots("naive") == ["2031-03-04T08:00:00Z", "2031-03-04T11:00:00Z"]
    assert book("naive", "2031-03-04T11:00:00Z").status_code == 201
    log = server_log(db[1])
    assert 'slot "09:00 AM" of services/naive is not served' in log


def test_fields_of_any_type_are_carried_and_an_unreadable_document_is_skipped(db):
    catalog = call("GET", "/services")
    assert catalog.status_code == 200
    ids = [service["service_id"] for service in catalog.json()["services"]]
    assert "odd" in ids and "broken" not in ids
    assert call("GET", "/services/odd").json()["available_slots"] == []  # its one slot is booked
    assert call("GET", "/bookings/odd-booking").json()["user_name"] == "Old customer"
    assert_error(call("GET", "/services/broken"), 404, "service_not_found")
    for _ in range(3):  # rebuilds in later seconds read the document again
        time.sleep(0.6)
        assert call("GET", "/services").status_code == 200
    log = server_log(db[1])
    assert "unreadable document services/broken: service_name is missing or not a string" in log
    processes = int(os.environ.get("WORKERS", "2")) + 1
    assert log.count("services/broken") <= processes, "reported once per process, not at every read"


def test_documents_added_with_generated_ids_are_found_by_their_id_fields(db):
    _, _, service_document, booking_document = db
    assert service_document != "added" and booking_document != "by-field"
    assert call("GET", "/services/added").json()["service_name"] == "Added with add()"
    assert_error(book("added", "2031-03-06T09:00:00Z"), 409, "slot_taken")
    found = call("GET", "/bookings/by-field")
    assert found.status_code == 200 and found.json()["booking_id"] == "by-field"


def test_slots_booked_twice_are_reported_by_the_server_and_by_check(db):
    log = server_log(db[1])
    assert "double booking: service iso, slot 2031-03-04T13:00:00Z, bookings twice-a, twice-b" in log
    checked = run_bookingctl("check", GOOGLE_CLOUD_PROJECT=PROJECT, LEGACY_SLOT_TIME_ZONE="Europe/Berlin")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "double booking: service iso" in checked.stderr and "unreadable document services/broken" in checked.stderr
    assert 'slot "09:00 AM" of services/naive is not served' in checked.stderr and "errors: " in checked.stdout


@pytest.fixture(scope="module")
def original_app():
    """Starts the stand-in for the original application on this module's project, plain or transactional."""
    processes = {}

    class App:
        def __init__(self, port):
            self.base = f"http://127.0.0.1:{port}"

        def post(self, path, body):
            return requests.post(self.base + path, json=body, timeout=30)

    def start(transactional):
        if transactional not in processes:
            port = 18091 + int(transactional)
            command = [sys.executable, os.path.join(ROOT, "Tests", "legacy", "original_app.py"), "--port", str(port),
                       "--project", PROJECT, "--endpoint", SERVER] + (["--transactional"] if transactional else [])
            log = open(os.path.join(os.path.dirname(LOG), f"original-app-{port}.log"), "a")
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            for _ in range(100):
                try:
                    requests.get(f"http://127.0.0.1:{port}/services", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            processes[transactional] = (process, App(port))
        return processes[transactional][1]

    yield start
    for process, _ in processes.values():
        process.terminate()
        process.wait(timeout=10)


def test_a_booking_the_original_makes_meanwhile_is_a_conflict_at_once_and_unlisted_within_the_bound(db, original_app):
    assert "2031-03-04T14:00:00Z" in free_slots("iso")
    assert original_app(False).post("/book", {"service_id": "iso", "slot": ISO[3], "user_name": "Elsewhere"}).status_code == 201
    assert_error(book("iso", "2031-03-04T14:00:00Z"), 409, "slot_taken")
    deadline = time.monotonic() + 2.5
    while "2031-03-04T14:00:00Z" in free_slots("iso"):
        assert time.monotonic() < deadline, "still listed free 2.5 s after the other application booked it"
        time.sleep(0.1)


@pytest.mark.parametrize("head_start", ["none", "original", "this service"])
def test_twenty_clients_of_both_applications_racing_for_one_slot_give_one_booking(db, original_app, head_start):
    """Ten clients of each application at once; then with one application's clients 0.3 s
    ahead, so that each side's bookings also meet the other's already committed."""
    client = db[0]
    service_id = f"race-{uuid.uuid4().hex[:6]}"
    slot = "2031-04-01T10:00:00+00:00"
    client.collection("services").document(service_id).set({"service_id": service_id, "service_name": "Race", "available_slots": [slot]})
    legacy = original_app(True)
    statuses, barrier, lock = [], threading.Barrier(20), threading.Lock()

    def racer(index):
        barrier.wait()
        original = index % 2 == 1
        if head_start == ("this service" if original else "original"):
            time.sleep(0.3)
        if original:
            status = legacy.post("/book", {"service_id": service_id, "slot": slot, "user_name": f"legacy-{index}"}).status_code
        else:
            status = book(service_id, "2031-04-01T10:00:00Z", user_name=f"new-{index}").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {201, 409, 503}, statuses
    stored = [d for d in client.collection("bookings").where("service_id", "==", service_id).stream()]
    assert len(stored) == 1, [d.to_dict() for d in stored]


def test_copy_to_postgres_claims_the_originals_bookings_there(db):
    copied = run_bookingctl("copy", "--from", "firestore", "--to", "postgres", GOOGLE_CLOUD_PROJECT=PROJECT,
                            LEGACY_SLOT_TIME_ZONE="Europe/Berlin")
    assert copied.returncode == 0, copied.stderr
    assert re.search(r"^slot_claims_created\t[1-9]", copied.stdout, re.MULTILINE), copied.stdout
    assert sql("SELECT fields->'booking_id'->>'stringValue' FROM documents WHERE collection = 'slot_claims' "
               "AND id = 'iso@2031-03-04T11:00:00Z'") == "old-1"
    assert sql("SELECT fields->'booking_id'->>'stringValue' FROM documents WHERE collection = 'slot_claims' "
               "AND id = 'iso@2031-03-04T13:00:00Z'") == "twice-a", "a slot booked twice is claimed for its earliest booking"
    # Fields the model does not use arrive unchanged.
    assert sql("SELECT fields->'where' FROM documents WHERE collection = 'services' AND id = 'odd'") \
        == '{"geoPointValue": {"latitude": 52.52, "longitude": 13.405}}'
    assert sql("SELECT fields->'logo'->>'bytesValue' FROM documents WHERE collection = 'services' AND id = 'odd'") == "iVBORw=="


def test_samples_go_only_into_a_store_without_services(db):
    refused = run_bookingctl("seed", GOOGLE_CLOUD_PROJECT=PROJECT)
    assert refused.returncode == 0 and "the store has services: no sample services created" in refused.stderr
    assert not db[0].collection("services").document("haircut").get().exists
    empty = f"empty-{uuid.uuid4().hex[:8]}"
    seeded = run_bookingctl("seed", GOOGLE_CLOUD_PROJECT=empty)
    assert seeded.returncode == 0 and re.search(r"^haircut\t49\tcreated$", seeded.stdout, re.MULTILINE), seeded.stdout
