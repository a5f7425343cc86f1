"""Firestore vanishing altogether (the test server stopped): 503 quickly, no hang, and service
resumes once it is back. Runs last of the Firestore tests: restarting the server empties it."""

import os
import signal
import subprocess
import sys
import time

import requests

from server_control import SERVER
from stack import ROOT, assert_error, call, create_service, future_slots

PID_FILE = os.path.join(os.environ.get("RUN_DIR", ""), "firestore-test-server.pid")


def test_bookings_fail_fast_while_firestore_is_gone_and_work_once_it_is_back():
    service = create_service(future_slots(1))
    os.kill(int(open(PID_FILE).read()), signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(SERVER + "/_test/requests", timeout=1)
            time.sleep(0.1)
        except requests.ConnectionError:
            break
    started = time.monotonic()
    assert_error(call("POST", "/book", json={"service_id": service["service_id"], "slot": service["available_slots"][0],
                                             "user_name": "A"}), 503, "store_unavailable")
    assert time.monotonic() - started < 10
    assert call("GET", "/healthz").json()["status"] == "unavailable"

    port = SERVER.rsplit(":", 1)[1]
    log = open(os.path.join(os.environ.get("RUN_DIR", ""), "log", "firestore-test-server.log"), "a")
    subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "firestore", "firestore_test_server.py"), "--port", port,
                      "--pid-file", PID_FILE], stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 10
    while call("GET", "/healthz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert call("GET", "/healthz").status_code == 200
    again = create_service(future_slots(1))  # the restarted server starts empty
    assert call("POST", "/book", json={"service_id": again["service_id"], "slot": again["available_slots"][0], "user_name": "A"}).status_code == 201
