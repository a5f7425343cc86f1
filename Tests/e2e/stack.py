"""Helpers for the end-to-end tests: the stack deploy/test started (nginx, FastCGI workers, the store)."""

import json
import os
import re
import socket
import subprocess
import threading
import time
from collections import Counter
import uuid
from datetime import datetime, timedelta, timezone

import requests

BASE = os.environ.get("BOOKING_URL", "https://127.0.0.1:18443")
HTTP_BASE = os.environ.get("BOOKING_HTTP_URL", "http://127.0.0.1:18080")
CA = os.environ.get("BOOKING_CA", False)
ADMIN = {"Authorization": f"Bearer {os.environ.get('ADMIN_TOKEN', 'test-admin-token-0123456789abcdef')}"}
BACKEND = os.environ.get("BOOKING_BACKEND", "postgres")
HEALTH_BACKEND = {"postgres": "postgres", "firestore": "firestore-emulator"}[BACKEND]
ROOT = os.environ.get("ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
RUN_DIR = os.environ.get("RUN_DIR", os.path.join(ROOT, ".run", "test"))


def url(path):
    return BASE + path


def call(method, path, session=None, **kwargs):
    kwargs.setdefault("timeout", 30)
    kwargs.setdefault("verify", CA)
    return (session or requests).request(method, url(path), **kwargs)


def assert_error(response, status, code):
    """Every error has one shape: {"error": {"code", "message"}}, served as JSON."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"], body


def book(service_id, slot, user_name="Ann", **kwargs):
    """POST /book for one slot; the response as it came."""
    return call("POST", "/book", json={"service_id": service_id, "slot": slot, "user_name": user_name}, **kwargs)


def as_read(made):
    """A booking as GET /bookings/{id} shows it, from the answer to the POST /book that made it
    (which alone holds the manage token and whether a confirmation email was queued)."""
    return {name: value for name, value in made.items() if name not in ("manage_token", "confirmation_email_queued")}


def future_slots(count, start_days=400, step_minutes=30):
    start = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc) + timedelta(days=start_days % 300)
    return [(start + timedelta(minutes=step_minutes * i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(count)]


def create_service(slots, name="Test service", service_id=None):
    service_id = service_id or f"e2e-{uuid.uuid4().hex[:12]}"
    response = call("POST", "/services", headers=ADMIN,
                    json={"service_id": service_id, "service_name": name, "available_slots": slots})
    assert response.status_code == 201, response.text
    return response.json()


def sql(query):
    """Runs a query on the test database and returns the single value it selects."""
    output = subprocess.run(["psql", os.environ["DATABASE_URL"], "-tAc", query],
                            check=True, capture_output=True, text=True).stdout
    return output.strip()


def cluster_sql(statement):
    """Runs a statement as the test cluster's superuser (the user PostgreSQL runs as), for what
    the workers' role may not do: creating and dropping databases."""
    import pwd
    data = os.path.join(RUN_DIR, "postgres", "data")
    superuser = pwd.getpwuid(os.stat(data).st_uid).pw_name
    url = re.sub(r"([?&]user=)[^&]*", lambda match: match.group(1) + superuser, os.environ["DATABASE_URL"]).replace("/booking?", "/postgres?")
    subprocess.run(["psql", url, "-qc", statement], check=True, capture_output=True, text=True)


def database_role():
    """The role the workers connect as (DATABASE_URL's user)."""
    return re.search(r"[?&]user=([^&]*)", os.environ["DATABASE_URL"]).group(1)


def count_documents(collection, service_id):
    """How many documents of `collection` name the service, read from the store behind the API."""
    if BACKEND == "postgres":
        return int(sql("SELECT count(*) FROM documents WHERE collection = '%s' AND fields @> "
                       "'{\"service_id\": {\"stringValue\": \"%s\"}}'" % (collection, service_id)))
    query = {"structuredQuery": {"from": [{"collectionId": collection}], "where": {"fieldFilter": {
        "field": {"fieldPath": "service_id"}, "op": "EQUAL", "value": {"stringValue": service_id}}}}}
    project = os.environ.get("GOOGLE_CLOUD_PROJECT", "booking-e2e")
    results = requests.post(f"{os.environ['FIRESTORE_TEST_URL']}/v1/projects/{project}/databases/(default)/documents:runQuery",
                            json=query, headers={"Authorization": "Bearer owner"}, timeout=10).json()
    return sum(1 for result in results if "document" in result)


def _plain(value):
    """A field in Firestore's typed encoding as a plain Python value."""
    for kind in ("stringValue", "timestampValue", "booleanValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "integerValue" in value:
        return int(value["integerValue"])
    return value


def store_documents(collection, service_id):
    """The documents of `collection` that name the service, as {"id", and each field plainly},
    read from the store behind the API (not through it)."""
    if BACKEND == "postgres":
        rows = sql("SELECT coalesce(json_agg(json_build_object('id', id, 'fields', fields)), '[]') FROM documents "
                   "WHERE collection = '%s' AND fields @> '{\"service_id\": {\"stringValue\": \"%s\"}}'" % (collection, service_id))
        documents = [(row["id"], row["fields"]) for row in json.loads(rows)]
    else:
        query = {"structuredQuery": {"from": [{"collectionId": collection}], "where": {"fieldFilter": {
            "field": {"fieldPath": "service_id"}, "op": "EQUAL", "value": {"stringValue": service_id}}}}}
        project = os.environ.get("GOOGLE_CLOUD_PROJECT", "booking-e2e")
        results = requests.post(f"{os.environ['FIRESTORE_TEST_URL']}/v1/projects/{project}/databases/(default)/documents:runQuery",
                                json=query, headers={"Authorization": "Bearer owner"}, timeout=10).json()
        documents = [(r["document"]["name"].rsplit("/", 1)[1], r["document"].get("fields", {})) for r in results if "document" in r]
    return [{"id": id, **{name: _plain(value) for name, value in fields.items()}} for id, fields in documents]


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_store(service_id, seats=1):
    """The invariant of the service's data in the store: one confirmed booking per claim and no
    claim without one, each confirmed booking of a future slot holding the claim of its seat of
    its slot (so no slot has more bookings than seats). Returns the confirmed bookings."""
    claims = store_documents("slot_claims", service_id)
    bookings = store_documents("bookings", service_id)
    confirmed = {b["booking_id"]: b for b in bookings if b.get("status", "confirmed") == "confirmed"}
    for claim in claims:
        holder = confirmed.get(claim["booking_id"])
        assert holder is not None, f"a claim without a confirmed booking: {claim}"
        assert instant(holder["slot"]) == instant(claim["slot"]), (claim, holder)
        seat = int(holder.get("seat", 1))
        assert claim["id"].endswith(f"#{seat}" if seat > 1 else "Z"), (claim, holder)
    held = Counter(instant(b["slot"]) for b in confirmed.values())
    assert all(count <= seats for count in held.values()), f"a slot held more than {seats} times: {held}"
    assert len(claims) == len(confirmed), (claims, confirmed)
    return list(confirmed.values())


def at_once(*actions):
    """Runs each action on its own thread and connection, released together; their results in order."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index, action):
        with requests.Session() as session:
            barrier.wait()
            try:
                results[index] = action(session)
            except requests.RequestException as error:
                results[index] = error

    threads = [threading.Thread(target=run, args=(i, action)) for i, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    return results


SUPERVISOR_PID = os.path.join(os.environ.get("RUN_DIR", ""), "booking-server.pid")


def worker_pids():
    """The worker processes of the stack's FastCGI server, as its supervisor started them."""
    supervisor = open(SUPERVISOR_PID).read().strip()
    with open(f"/proc/{supervisor}/task/{supervisor}/children") as children:
        return sorted(int(pid) for pid in children.read().split())


def wait_until(condition, seconds=20):
    """Whether `condition()` came true within `seconds`, asked every 0.1 s."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def metrics(address=None):
    """The server's Prometheus exposition on METRICS_ADDRESS, as {series: value}; series are
    spelled as the text has them, e.g. 'booking_bookings_total{outcome="created"}'."""
    address = address or os.environ.get("METRICS_ADDRESS", "127.0.0.1:19464")
    response = requests.get(f"http://{address}/metrics", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain; version=0.0.4"), response.text
    values = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            assert series not in values, f"{series} twice in one scrape"
            values[series] = float(value)
    return values


def bookingctl(*args, **environment):
    """Runs the operator CLI (the build deploy/test made) on the store under test, with
    `environment` added; its result."""
    bin_dir = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    return subprocess.run([os.path.join(bin_dir, "bookingctl"), *args], capture_output=True, timeout=120, env={**os.environ, **environment})


def free_port():
    """A TCP port on the loopback address that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def lib_sh(script, environment, timeout=60):
    """Runs deploy/lib.sh steps in exactly `environment` (another nginx's folder and ports, say);
    fails the test with their output if they fail."""
    done = subprocess.run(["bash", "-c", f"source '{ROOT}/deploy/lib.sh'; prepare_user; {script}"], env=environment,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def deploy(*functions, **environment):
    """Runs deploy/lib.sh steps (e.g. stop_postgres) with the test run's settings, and with
    `environment` added (start_app passes it on to the server: EXTERNAL_WRITERS=1, say)."""
    lib_sh("; ".join(functions), {**os.environ, **environment}, timeout=None)


def restart_app(*then, **environment):
    """Restarts the FastCGI workers (the build deploy/test made) with `environment` added, then
    runs the deploy/lib.sh steps `then` (wait_for_health, say)."""
    deploy("BIN_DIR=$(cd \"$ROOT\" && swift build --show-bin-path)", "start_app", *then, **environment)
