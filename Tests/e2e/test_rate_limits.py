"""Rate limits: a second nginx, rendered by deploy/lib.sh as deploy/up renders it with limits on,
in front of the stack's workers (the stack's own nginx runs with RATE_LIMIT=0, as the races need)."""

import os
import time

import pytest
import requests

from stack import ADMIN, RUN_DIR, assert_error, call, free_port, lib_sh

CUSTOMER_RATE, ADMIN_RATE = 3, 2  # per second; the bursts are twice these


@pytest.fixture(scope="module")
def limited():
    """The base URL of an nginx with RATE_LIMIT=3 and ADMIN_RATE_LIMIT=2 (its own ports and folder)."""
    environment = {**os.environ, "RUN_DIR": os.path.join(RUN_DIR, "rate-limited"), "HTTPS_PORT": str(free_port()),
                   "HTTP_PORT": str(free_port()), "RATE_LIMIT": str(CUSTOMER_RATE), "ADMIN_RATE_LIMIT": str(ADMIN_RATE),
                   "FASTCGI_SERVERS": f"server unix:{RUN_DIR}/socket/booking.sock;",
                   "PUBLISH_DIR": os.path.join(RUN_DIR, "published"), "LARGE_BODY_DIR": os.path.join(RUN_DIR, "large-bodies")}
    lib_sh("make_run_dir; start_nginx; wait_for_health", environment)
    try:
        yield f"https://127.0.0.1:{environment['HTTPS_PORT']}"
    finally:
        lib_sh("stop_nginx", environment)


def burst(base, count, method, path, **kwargs):
    """`count` requests back to back on one connection; their responses."""
    with requests.Session() as session:
        return [session.request(method, base + path, verify=False, timeout=10, **kwargs) for _ in range(count)]


def test_a_client_over_its_limit_gets_429_json_with_retry_after_and_reads_are_not_limited(limited):
    # Bodies the workers refuse (400): the limit counts requests, whatever they come to.
    answers = burst(limited, 20, "POST", "/book", json={})
    statuses = [answer.status_code for answer in answers]
    passed = statuses.count(400)
    assert passed + statuses.count(429) == len(statuses), statuses
    # A burst of twice the rate, and what the rate adds while the requests run.
    assert 2 * CUSTOMER_RATE <= passed <= 2 * CUSTOMER_RATE + 2, statuses
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert_error(refused, 429, "rate_limited")
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["X-Content-Type-Options"] == "nosniff"  # the site's headers on nginx's errors too
    assert "Allow" not in refused.headers
    # Other customers' changes share the zone: a cancellation now is refused as well.
    assert_error(burst(limited, 1, "DELETE", "/bookings/no-such-booking")[0], 429, "rate_limited")
    # Reads are not limited.
    reads = burst(limited, 30, "GET", "/services/no-such-service") + burst(limited, 10, "GET", "/services")
    assert {answer.status_code for answer in reads} == {404, 200}, [answer.status_code for answer in reads]
    # Admin calls have a zone of their own: the customers' limit does not hold them up.
    admin = burst(limited, 12, "POST", "/services", json={}, headers=ADMIN)
    admin_statuses = [answer.status_code for answer in admin]
    assert admin_statuses[:2 * ADMIN_RATE] == [400] * (2 * ADMIN_RATE), admin_statuses
    assert 429 in admin_statuses, admin_statuses
    assert_error(next(answer for answer in admin if answer.status_code == 429), 429, "rate_limited")
    # The listing is an admin call too; a single booking's page is a read.
    assert burst(limited, 1, "GET", "/bookings", headers=ADMIN)[0].status_code == 429
    assert burst(limited, 1, "GET", "/bookings/no-such-booking")[0].status_code == 404
    # After Retry-After, the client may go on.
    time.sleep(1.1)
    assert burst(limited, 1, "POST", "/book", json={})[0].status_code == 400


def test_the_stacks_nginx_with_rate_limit_0_limits_nothing():
    with requests.Session() as session:
        statuses = {call("POST", "/book", session=session, json={}).status_code for _ in range(60)}
    assert statuses == {400}, statuses
