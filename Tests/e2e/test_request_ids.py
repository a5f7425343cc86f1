"""Request ids and log lines: every response says its request's id, nginx's access log and the
workers' JSON log lines carry it, and a booking's line names ids, never the customer."""

import json
import os
import re
import time
import uuid

import requests

from stack import ADMIN, BASE, CA, HTTP_BASE, call, create_service, future_slots

RUN_DIR = os.environ.get("RUN_DIR", "")
APP_LOG = os.path.join(RUN_DIR, "log", "booking-server.log")
ACCESS_LOG = os.path.join(RUN_DIR, "nginx", "access.log")
GENERATED = re.compile(r"^[0-9a-f]{32}$")


def log_lines_since(path, offset):
    with open(path, "rb") as log:
        log.seek(offset)
        return log.read().decode().splitlines()


def eventually(read, condition, seconds=5):
    deadline = time.monotonic() + seconds
    while True:
        lines = read()
        if condition(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_every_response_carries_an_id_nginx_made_or_a_valid_one_the_client_sent():
    responses = [
        call("GET", "/services"), call("GET", "/services/no-such"), call("GET", "/"), call("GET", "/assets/no-such.css"),
        call("POST", "/book", data="x" * 70_000, headers={"Content-Type": "application/json"}),  # nginx's own 413
        call("GET", "/healthz"), call("PUT", "/index.html"),
        requests.get(HTTP_BASE + "/services", allow_redirects=False, timeout=10),
    ]
    ids = [response.headers.get("X-Request-ID", "") for response in responses]
    assert all(GENERATED.match(id) for id in ids), ids
    assert len(set(ids)) == len(ids)
    mine = f"client-{uuid.uuid4()}"
    assert call("GET", "/services", headers={"X-Request-ID": mine}).headers["X-Request-ID"] == mine
    for bad in ["short", "has space in it", "x" * 129, "quote\"inside-it"]:
        assert GENERATED.match(call("GET", "/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]), bad


def test_a_booking_is_one_json_log_line_with_its_ids_and_the_request_id_nginx_logged():
    service = create_service(future_slots(2))
    app_offset, access_offset = os.path.getsize(APP_LOG), os.path.getsize(ACCESS_LOG)
    request_id = f"trace-{uuid.uuid4().hex}"
    made = call("POST", "/book", headers={"X-Request-ID": request_id},
                json={"service_id": service["service_id"], "slot": service["available_slots"][0], "user_name": "Private Name",
                      "email": "private@example.com"})
    assert made.status_code == 201 and made.headers["X-Request-ID"] == request_id
    booking = made.json()

    lines = eventually(lambda: log_lines_since(APP_LOG, app_offset), lambda lines: any(request_id in line for line in lines))
    events = [json.loads(line) for line in lines if request_id in line]
    assert len(events) == 1, lines
    event = events[0]
    assert event["message"] == "booking created" and event["level"] == "info"
    assert (event["booking_id"], event["service_id"], event["slot"]) == (booking["booking_id"], service["service_id"], booking["slot"])
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", event["time"])
    for private in ("Private Name", "private@example.com", booking["manage_token"]):
        assert private not in "\n".join(lines)

    access = eventually(lambda: log_lines_since(ACCESS_LOG, access_offset), lambda lines: any(request_id in line for line in lines))
    assert [line for line in access if f"request_id={request_id} " in line and '"POST /book HTTP/' in line], access

    cancelled = call("DELETE", f"/bookings/{booking['booking_id']}", headers={**ADMIN, "X-Request-ID": request_id + "-2"})
    assert cancelled.status_code == 200
    lines = eventually(lambda: log_lines_since(APP_LOG, app_offset), lambda lines: any(request_id + "-2" in line for line in lines))
    assert [json.loads(line)["message"] for line in lines if request_id + "-2" in line] == ["booking cancelled"]


def test_every_line_the_workers_write_is_one_json_object():
    offset = max(0, os.path.getsize(APP_LOG) - 200_000)
    lines = [line for line in log_lines_since(APP_LOG, offset)[1:] if line.strip()]
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"time", "level", "message"} <= set(record), line


def test_the_api_description_says_what_x_request_id_is():
    from test_openapi import SPEC
    assert "X-Request-ID" in SPEC["info"]["description"]
