"""bookingctl prune (also prune-claims) deletes the slot claims and releases of slots that began
more than --keep-hours ago, and the idempotency keys that expired, on either store, and leaves
every other claim, release, key and booking alone."""

import datetime
import json
import uuid

import requests

from server_control import bookingctl, documents_url, list_all, run_bookingctl
from stack import sql


def spelled(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def claims(service_id):
    """Claims of a service: long past (2020), 2 hours ago (within the default 24 kept), and future."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    slots = {"old": "2020-01-01T09:00:00Z", "recent": spelled(now - datetime.timedelta(hours=2)),
             "future": spelled(now + datetime.timedelta(days=30))}
    return {name: (f"{service_id}@{slot}", {"service_id": {"stringValue": service_id}, "slot": {"stringValue": slot},
                                           "booking_id": {"stringValue": f"b-{name}-{service_id}"}})
            for name, slot in slots.items()}


def test_pruning_on_postgres_deletes_only_long_past_claims():
    service_id = f"prune-{uuid.uuid4().hex[:8]}"
    written = claims(service_id)
    for claim_id, fields in written.values():
        sql(f"INSERT INTO documents VALUES ('slot_claims', '{claim_id}', '{json.dumps(fields)}', now(), now())")
    sql(f"INSERT INTO documents VALUES ('bookings', 'b-old-{service_id}', '{{}}', now(), now())")

    out = json.loads(bookingctl("prune-claims", "--backend", "postgres", "--json"))
    assert out["slot_claims_deleted"] == 1 and out["slots_before"].endswith("Z"), out
    kept = sql(f"SELECT string_agg(id, ' ' ORDER BY id) FROM documents WHERE collection = 'slot_claims' AND id LIKE '{service_id}@%'")
    assert kept.split() == sorted([written["recent"][0], written["future"][0]])
    assert sql(f"SELECT count(*) FROM documents WHERE collection = 'bookings' AND id = 'b-old-{service_id}'") == "1"

    assert "slot_claims_deleted: 1" in bookingctl("prune-claims", "--backend", "postgres", "--keep-hours", "1"), "then the recent one"
    assert "slot_claims_deleted: 0" in bookingctl("prune-claims", "--backend", "postgres"), "running it again deletes nothing"


def test_pruning_on_firestore_deletes_only_long_past_claims():
    project = f"prune-{uuid.uuid4().hex[:8]}"
    written = claims("cut")
    writes = [{"update": {"name": f"projects/{project}/databases/(default)/documents/slot_claims/{claim_id}", "fields": fields}}
              for claim_id, fields in written.values()]
    response = requests.post(f"{documents_url(project)}:commit", json={"writes": writes}, timeout=10)
    assert response.status_code == 200, response.text

    result = run_bookingctl("prune-claims", "--backend", "firestore", GOOGLE_CLOUD_PROJECT=project)
    assert result.returncode == 0 and "slot_claims_deleted: 1" in result.stdout, result.stdout + result.stderr
    assert "deleting slot_claims: 1 of 1, done" in result.stderr, "the progress of the run"
    kept = sorted(doc["name"].rsplit("/", 1)[1] for doc in list_all(project, "slot_claims"))
    assert kept == sorted([written["recent"][0], written["future"][0]])


def test_prune_also_deletes_old_releases_and_expired_idempotency_keys():
    project = f"prune-{uuid.uuid4().hex[:8]}"
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    base = f"projects/{project}/databases/(default)/documents"
    releases = {name: f"cut@{slot}" for name, slot in (("old", "2020-01-01T09:00:00Z"), ("future", spelled(now + datetime.timedelta(days=3))))}
    keys = {"expired": spelled(now - datetime.timedelta(minutes=1)), "live": spelled(now + datetime.timedelta(hours=23))}
    writes = [{"update": {"name": f"{base}/slot_releases/{release}", "fields": {"service_id": {"stringValue": "cut"}}}}
              for release in releases.values()]
    writes += [{"update": {"name": f"{base}/idempotency_keys/{name}", "fields": {"state": {"stringValue": "done"},
                                                                              "expires_at": {"timestampValue": expires}}}}
               for name, expires in keys.items()]
    response = requests.post(f"{documents_url(project)}:commit", json={"writes": writes}, timeout=10)
    assert response.status_code == 200, response.text

    out = bookingctl("prune", "--backend", "firestore", GOOGLE_CLOUD_PROJECT=project)
    assert "idempotency_keys_deleted: 1" in out, out
    assert [doc["name"].rsplit("/", 1)[1] for doc in list_all(project, "slot_releases")] == [releases["future"]]
    assert [doc["name"].rsplit("/", 1)[1] for doc in list_all(project, "idempotency_keys")] == ["live"]


def test_keeping_less_than_an_hour_is_refused():
    result = run_bookingctl("prune-claims", "--keep-hours", "0")
    assert result.returncode != 0 and "at least 1" in result.stderr
