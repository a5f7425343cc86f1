"""Data is interchangeable with the original Python/Firebase application: documents it wrote
(written here with Google's own client, as it wrote them) are served by the API, and a booking
made through the API reads back with the original field names and types."""

import os
import uuid
from datetime import datetime, timezone

from google.cloud.firestore_v1.types import ArrayValue, CommitRequest, Document, Value, Write
from google.protobuf.timestamp_pb2 import Timestamp

from server_control import firestore_client
from stack import call

PROJECT = os.environ.get("GOOGLE_CLOUD_PROJECT", "booking-e2e")
DATABASE = f"projects/{PROJECT}/databases/(default)"


def client():
    return firestore_client()


def strings(*values):
    return Value(array_value=ArrayValue(values=[Value(string_value=v) for v in values]))


def test_documents_the_original_app_wrote_are_served():
    service_id = f"legacy-{uuid.uuid4().hex[:8]}"
    booked = Timestamp()
    booked.FromDatetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    client().commit(CommitRequest(database=DATABASE, writes=[
        # The original removed booked slots from available_slots, and spelled slots as it got them.
        Write(update=Document(name=f"{DATABASE}/documents/services/{service_id}", fields={
            "service_id": Value(string_value=service_id), "service_name": Value(string_value="Legacy haircut"),
            "available_slots": strings("2031-09-01T11:00:00+02:00", "2031-09-01T08:00:00Z")})),
        Write(update=Document(name=f"{DATABASE}/documents/bookings/{service_id}-b1", fields={
            "booking_id": Value(string_value=f"{service_id}-b1"), "service_id": Value(string_value=service_id),
            "slot": Value(string_value="2031-09-01T10:00:00Z"), "user_name": Value(string_value="Old customer"),
            "timestamp": Value(timestamp_value=booked)})),
    ]))
    service = call("GET", f"/services/{service_id}").json()
    free = ["2031-09-01T08:00:00Z", "2031-09-01T09:00:00Z"]
    assert service == {"service_id": service_id, "service_name": "Legacy haircut", "available_slots": free,
                       "slots": [{"start": slot, "seats_left": 1} for slot in free], "time_zone": "UTC", "hidden": False, "seats": 1}
    booking = call("GET", f"/bookings/{service_id}-b1").json()
    assert booking["timestamp"] == "2026-01-02T03:04:05Z" and booking["user_name"] == "Old customer"
    assert call("POST", "/book", json={"service_id": service_id, "slot": "2031-09-01T09:00:00Z", "user_name": "New"}).status_code == 201


def test_a_booking_made_through_the_api_reads_back_as_the_original_app_wrote_them():
    created = call("POST", "/services", headers={"Authorization": f"Bearer {os.environ.get('ADMIN_TOKEN', 'test-admin-token-0123456789abcdef')}"},
                   json={"service_name": "Interop", "available_slots": ["2031-09-02T09:00:00Z"]}).json()
    booking = call("POST", "/book", json={"service_id": created["service_id"], "slot": "2031-09-02T09:00:00Z", "user_name": "Ann"}).json()
    document = client().get_document(request={"name": f"{DATABASE}/documents/bookings/{booking['booking_id']}"})
    fields = document.fields
    # The original application's fields, and beside them the status and the manage token's hash.
    assert set(fields) == {"booking_id", "service_id", "slot", "user_name", "timestamp", "status", "manage_token_sha256"}
    assert fields["status"].string_value == "confirmed"
    assert fields["booking_id"].string_value == booking["booking_id"]
    assert fields["slot"].string_value == "2031-09-02T09:00:00Z" and fields["user_name"].string_value == "Ann"
    assert fields["timestamp"].timestamp_value.isoformat().startswith(booking["timestamp"][:19])
    service = client().get_document(request={"name": f"{DATABASE}/documents/services/{created['service_id']}"})
    assert [v.string_value for v in service.fields["available_slots"].array_value.values] == ["2031-09-02T09:00:00Z"]
