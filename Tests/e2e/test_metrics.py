"""Prometheus metrics on METRICS_ADDRESS: the host's totals over every worker process, never on
the public site."""

import os
import signal
import time

import requests

from stack import (BACKEND, assert_error, book, call, create_service, future_slots, metrics, wait_until,
                   worker_pids)

ADDRESS = os.environ.get("METRICS_ADDRESS", "127.0.0.1:19464")


def settled_metrics():
    """A scrape that holds every request made before it: the workers write their counts once a
    second, so one taken at once may lack the last second's."""
    time.sleep(1.2)
    return metrics()


def changed_by(before, expected):
    """Whether every series in `expected` moved by exactly its amount since `before`, in a scrape
    taken now (the workers write their counts once a second)."""
    def check():
        now = metrics()
        return all(now.get(series, 0) - before.get(series, 0) == amount for series, amount in expected.items())
    return wait_until(check, seconds=5)


def test_bookings_are_counted_by_outcome_and_requests_by_route_and_status():
    slot = future_slots(1, start_days=91)[0]
    service = create_service([slot])
    before = settled_metrics()
    key = {"Idempotency-Key": f"metrics-{service['service_id']}"}
    assert book(service["service_id"], slot, headers=key).status_code == 201
    replay = book(service["service_id"], slot, headers=key)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert_error(book(service["service_id"], slot, user_name="Bo"), 409, "slot_taken")
    assert_error(call("POST", "/book", json={"service_id": service["service_id"]}), 400, "invalid_request")
    for _ in range(3):  # built once per worker process, then served from its read cache: 3 reads on 2 processes
        assert call("GET", f"/services/{service['service_id']}").status_code == 200
    expected = {
        'booking_bookings_total{outcome="created"}': 1,  # the replay answered from its key is not a new booking
        'booking_bookings_total{outcome="conflict"}': 1,
        'booking_bookings_total{outcome="rejected"}': 1,
        'booking_http_requests_total{route="book",status="201"}': 2,
        'booking_http_requests_total{route="book",status="409"}': 1,
        'booking_http_requests_total{route="book",status="400"}': 1,
        'booking_http_request_duration_seconds_count{route="book"}': 4,
    }
    assert changed_by(before, expected), {series: metrics().get(series, 0) - before.get(series, 0) for series in expected}
    now = settled_metrics()  # each worker's file, written after these reads
    buckets = sorted(((float(series.split('le="')[1].split('"')[0]), value) for series, value in now.items()
                      if series.startswith('booking_http_request_duration_seconds_bucket{route="book"')), key=lambda b: b[0])
    assert buckets[-1] == (float("inf"), now['booking_http_request_duration_seconds_count{route="book"}'])
    assert all(earlier[1] <= later[1] for earlier, later in zip(buckets, buckets[1:])), "buckets are cumulative"
    assert now['booking_store_calls_total{operation="commit"}'] > before.get('booking_store_calls_total{operation="commit"}', 0)
    assert now['booking_read_cache_rebuilds_total'] > before.get('booking_read_cache_rebuilds_total', 0)
    assert now['booking_read_cache_hits_total'] > before.get('booking_read_cache_hits_total', 0)
    assert now['booking_build_info{version="%s"}' % call("GET", "/healthz").json()["version"]] == 1


def test_readiness_answers_ready_while_the_store_answers():
    ready = call("GET", "/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}, ready.text
    assert_error(call("POST", "/readyz"), 405, "method_not_allowed")


def test_metrics_are_not_on_the_public_site_and_their_listener_answers_only_metrics():
    assert_error(call("GET", "/metrics"), 404, "not_found")
    assert requests.get(f"http://{ADDRESS}/", timeout=10).status_code == 404
    refused = requests.post(f"http://{ADDRESS}/metrics", timeout=10)
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, HEAD"
    head = requests.head(f"http://{ADDRESS}/metrics", timeout=10)
    assert head.status_code == 200 and head.text == "" and int(head.headers["Content-Length"]) > 0


def test_a_worker_restart_is_counted_and_its_counts_stay_in_the_totals():
    if BACKEND != "postgres":
        return  # once is enough: the supervisor does the same on either store
    for _ in range(5):
        assert call("GET", "/healthz").status_code == 200
    before = settled_metrics()
    victim = worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    assert wait_until(lambda: len(worker_pids()) == 2 and victim not in worker_pids())
    assert changed_by(before, {"fastcgi_worker_restarts_total": 1})
    after = metrics()
    for series, value in before.items():
        if series.endswith("_total") or series.endswith("_count"):
            # The killed worker's last second may be lost, but never what it had written before.
            assert after.get(series, 0) >= value, series
