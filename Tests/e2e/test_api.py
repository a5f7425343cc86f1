"""Every endpoint and every error of the API, through nginx over TLS."""

import gzip
import json
import re
import subprocess
import uuid

import pytest
import requests

from stack import (ADMIN, BASE, CA, HEALTH_BACKEND, HTTP_BASE, as_read, assert_error, book, call, count_documents, create_service, future_slots, url)


def test_health_reports_the_backend_the_version_and_the_store_round_trip():
    response = call("GET", "/healthz")
    assert response.status_code == 200
    body = response.json()
    assert 0 < body.pop("store_rtt_ms") < 1000 and re.fullmatch(r"\d+\.\d+\.\d+", body.pop("version")), response.text
    assert body == {"status": "ok", "backend": HEALTH_BACKEND}


def test_the_page_is_served_with_security_headers():
    response = call("GET", "/")
    assert response.status_code == 200
    assert "<title>Book a slot</title>" in response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert "no-cache" in response.headers["Cache-Control"]
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert call("GET", "/assets/app.js").headers["Content-Type"].split(";")[0] in ("application/javascript", "text/javascript")


def test_http2_is_offered():
    version = subprocess.run(["curl", "-s", "--http2", "--cacert", CA, "-o", "/dev/null", "-w", "%{http_version}", url("/healthz")],
                             capture_output=True, text=True, check=True).stdout
    assert version == "2"


def test_plain_http_redirects_to_https_at_the_configured_name_whatever_the_host_header():
    response = requests.get(HTTP_BASE + "/services?x=1", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://localhost:")  # SERVER_NAME
    assert response.headers["Location"].endswith("/services?x=1")
    hostile = requests.get(HTTP_BASE + "/book", headers={"Host": "evil.example"}, allow_redirects=False, timeout=10)
    print(f"redirect with Host: evil.example -> {hostile.headers['Location']}")
    assert hostile.status_code == 301 and hostile.headers["Location"].startswith("https://localhost:"), hostile.headers


def test_tls_offers_only_forward_secret_aead_suites_and_no_tls_before_1_2():
    """What a client that offers only one suite (or one protocol) gets: refused, unless it is one
    of Mozilla's intermediate suites or TLS 1.3."""
    import socket
    import ssl
    from urllib.parse import urlparse
    target = urlparse(BASE)

    def handshake(ciphers=None, version=None):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        context.maximum_version = version or ssl.TLSVersion.TLSv1_2
        context.minimum_version = version or ssl.TLSVersion.MINIMUM_SUPPORTED
        if ciphers:
            context.set_ciphers(ciphers + ":@SECLEVEL=0")
        try:
            with socket.create_connection((target.hostname, target.port), timeout=10) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    return tls.cipher()[0]
        except (ssl.SSLError, ConnectionResetError):
            return None

    # The suites that sign with the certificate's kind of key (ECDSA for deploy/'s own, RSA for many
    # real ones) are the ones a client can get; static RSA and DHE ones are refused for both.
    auth = "ECDSA" if "ECDSA" in handshake() else "RSA"
    aria, ccm8 = ("ECDHE-ECDSA-ARIA128-GCM-SHA256", "ECDHE-ECDSA-AES128-CCM8") if auth == "ECDSA" else ("ECDHE-ARIA128-GCM-SHA256", "AES128-CCM8")
    refused = ["AES128-SHA", "AES256-GCM-SHA384", "CAMELLIA128-SHA", "ARIA128-GCM-SHA256", "DHE-RSA-AES128-GCM-SHA256",
               f"ECDHE-{auth}-AES128-SHA", f"ECDHE-{auth}-AES256-SHA384", f"ECDHE-{auth}-CAMELLIA128-SHA256", aria, ccm8]
    offered = [f"ECDHE-{auth}-AES128-GCM-SHA256", f"ECDHE-{auth}-AES256-GCM-SHA384", f"ECDHE-{auth}-CHACHA20-POLY1305"]
    taken = {suite: handshake(suite) for suite in refused + offered}
    print(f"TLS 1.2 suites offered one at a time ({auth} certificate) -> negotiated: {taken}")
    assert all(taken[suite] is None for suite in refused), taken
    assert all(taken[suite] == suite for suite in offered), taken
    assert handshake(version=ssl.TLSVersion.TLSv1_3) is not None
    for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        assert handshake(version=old) is None, old


def test_services_list_free_slots_in_time_order():
    slots = future_slots(3)
    created = create_service([slots[2], slots[0], slots[1]], name="Listed")
    assert created["available_slots"] == slots
    listed = call("GET", "/services").json()["services"]
    mine = [s for s in listed if s["service_id"] == created["service_id"]]
    assert mine == [{"service_id": created["service_id"], "service_name": "Listed", "available_slots": slots, "time_zone": "UTC",
                     "hidden": False, "seats": 1, "slots": [{"start": slot, "seats_left": 1} for slot in slots]}]
    assert call("GET", f"/services/{created['service_id']}").json() == mine[0]


def test_bodies_larger_than_one_fastcgi_record_arrive_whole():
    # 2,500 slots make a 57 KB service body (several 8 KB buffers), three of them a catalog of several 64 KB records.
    slots = future_slots(2500, start_days=123, step_minutes=7)
    created = [create_service(slots, name=f"Big {n}") for n in range(3)]
    one = call("GET", f"/services/{created[0]['service_id']}")
    assert one.status_code == 200 and len(one.content) > 50_000
    assert one.json() == created[0]
    catalog = call("GET", "/services", headers={"Accept-Encoding": "identity"})
    assert catalog.status_code == 200 and int(catalog.headers["Content-Length"]) == len(catalog.content) > 170_000
    mine = {s["service_id"]: s for s in catalog.json()["services"] if s["service_id"] in {c["service_id"] for c in created}}
    assert mine == {c["service_id"]: c for c in created}


def test_availability_is_gzipped_for_clients_that_accept_it():
    service = create_service(future_slots(60, start_days=77, step_minutes=15))
    path = f"/services/{service['service_id']}"
    plain = call("GET", path, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    compressed = call("GET", path, headers={"Accept-Encoding": "gzip"}, stream=True)
    raw = compressed.raw.read(decode_content=False)
    assert compressed.headers["Content-Encoding"] == "gzip" and compressed.headers["Vary"] == "Accept-Encoding"
    assert int(compressed.headers["Content-Length"]) == len(raw) < len(plain.content) / 4
    assert gzip.decompress(raw) == plain.content
    # The worker's level 6 (nginx's own gzip would be level 1): the same deflate stream and
    # trailer as Python's zlib makes at that level; only the 10-byte headers differ.
    assert raw[10:] == gzip.compress(plain.content, compresslevel=6, mtime=0)[10:], "nginx passes the worker's body on as it is"
    assert book(service["service_id"], service["available_slots"][0]).status_code == 201
    for _ in range(8):  # whichever worker answers: the compressed body follows the booking at once
        assert call("GET", path).json()["available_slots"] == service["available_slots"][1:]
    catalog = call("GET", "/services", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert catalog.headers["Content-Encoding"] == "gzip"
    assert next(s for s in catalog.json()["services"] if s["service_id"] == service["service_id"])["available_slots"] == service["available_slots"][1:]


def test_creating_a_service_needs_the_admin_token():
    body = {"service_name": "X", "available_slots": []}
    assert_error(call("POST", "/services", json=body), 401, "unauthorized")
    assert_error(call("POST", "/services", json=body, headers={"Authorization": "Bearer nope"}), 401, "unauthorized")
    response = call("POST", "/services", json=body, headers=ADMIN)
    assert response.status_code == 201
    generated = response.json()["service_id"]
    assert len(generated) == 20
    assert response.headers["Location"] == f"/services/{generated}"


def test_creating_a_service_normalises_slots_and_refuses_duplicates():
    created = create_service(["2031-06-01T10:30:00+01:00", "2031-06-01T09:30:00.000Z", "2031-06-01T08:00:00Z"])
    assert created["available_slots"] == ["2031-06-01T08:00:00Z", "2031-06-01T09:30:00Z"]
    again = call("POST", "/services", headers=ADMIN, json={"service_id": created["service_id"], "service_name": "Y", "available_slots": []})
    assert_error(again, 409, "service_exists")


def test_bad_services_are_refused():
    cases = [
        ({"service_name": "X", "available_slots": ["next tuesday"]}, 422, "invalid_slot"),
        ({"service_name": "   ", "available_slots": []}, 422, "invalid_field"),
        ({"service_id": "a/b", "service_name": "X", "available_slots": []}, 422, "invalid_field"),
        ({"service_id": "__x__", "service_name": "X", "available_slots": []}, 422, "invalid_field"),
        # One character on screen, 741 code points: its slot claims' ids would not fit Firestore's
        # 1,500 bytes, so it could never be booked (it was created, and every booking got 500).
        ({"service_id": "a" + "\u0301" * 740, "service_name": "X", "available_slots": []}, 422, "invalid_field"),
        # Names that look blank, or show other than they are; a slot whose UTC year has five digits.
        ({"service_name": "\u200b\u2060", "available_slots": []}, 422, "invalid_field"),
        ({"service_name": "Cut\u202eevil", "available_slots": []}, 422, "invalid_field"),
        ({"service_name": "one\u2028two", "available_slots": []}, 422, "invalid_field"),
        ({"service_id": "\u200b", "service_name": "X", "available_slots": []}, 422, "invalid_field"),
        ({"service_id": "room\u2066101", "service_name": "X", "available_slots": []}, 422, "invalid_field"),
        ({"service_name": "X", "available_slots": ["9999-12-31T23:59:59-23:59"]}, 422, "invalid_slot"),
        ({"service_name": "X", "available_slots": "2031-06-01T08:00:00Z"}, 400, "invalid_request"),
        ({"service_name": "X", "available_slots": [1]}, 400, "invalid_request"),
        ({"service_name": 5, "available_slots": []}, 400, "invalid_request"),
    ]
    for body, status, code in cases:
        assert_error(call("POST", "/services", json=body, headers=ADMIN), status, code)


def test_a_booking_is_confirmed_readable_and_leaves_the_free_list(service):
    sid, slot = service["service_id"], service["available_slots"][0]
    response = book(sid, slot, user_name="  Ann Smith  ")
    assert response.status_code == 201, response.text
    booking = response.json()
    assert set(booking) == {"booking_id", "service_id", "slot", "user_name", "timestamp", "status", "manage_token", "confirmation_email_queued"}
    assert (booking["service_id"], booking["slot"], booking["user_name"], booking["status"]) == (sid, slot, "Ann Smith", "confirmed")
    assert booking["confirmation_email_queued"] is False, "no address, and no mail server here"
    assert response.headers["Location"] == f"/bookings/{booking['booking_id']}"
    token, booking = booking["manage_token"], as_read(booking)
    assert call("GET", f"/bookings/{booking['booking_id']}").json() == booking, "the token only in the booking's answer"
    assert call("GET", f"/bookings/{booking['booking_id']}", headers={"Authorization": f"Bearer {token}"}).json() == booking
    free = call("GET", f"/services/{sid}").json()["available_slots"]
    assert slot not in free and len(free) == len(service["available_slots"]) - 1


def test_booking_errors(service):
    sid, slots = service["service_id"], service["available_slots"]
    assert book(sid, slots[0]).status_code == 201
    assert_error(book(sid, slots[0], "Bob"), 409, "slot_taken")
    assert_error(book("no-such-service", slots[0]), 404, "service_not_found")
    assert_error(book(sid, "2035-01-01T00:00:00Z"), 422, "slot_not_offered")
    assert_error(book(sid, "not a time"), 422, "invalid_slot")
    assert_error(book(sid, slots[1], " \t "), 422, "invalid_field")
    assert_error(book(sid, slots[1], "x" * 201), 422, "invalid_field")
    assert_error(book("a/b", slots[1]), 422, "invalid_field")
    assert_error(call("POST", "/book", data="{not json", headers={"Content-Type": "application/json"}), 400, "invalid_json")
    assert_error(call("POST", "/book", json=[sid, slots[1]]), 400, "invalid_request")
    assert_error(call("POST", "/book", json={"service_id": sid, "slot": 20310601, "user_name": "A"}), 400, "invalid_request")
    assert_error(call("POST", "/book", json={"service_id": sid, "user_name": "A"}), 400, "invalid_request")
    assert_error(call("POST", "/book", data=f"service_id={sid}", headers={"Content-Type": "application/x-www-form-urlencoded"}),
                 415, "unsupported_media_type")
    assert_error(call("POST", "/book", data=b"", headers={}), 415, "unsupported_media_type")


def test_one_instant_written_two_ways_is_one_slot():
    created = create_service(["2031-07-01T09:00:00Z"])
    assert book(created["service_id"], "2031-07-01T11:00:00+02:00").json()["slot"] == "2031-07-01T09:00:00Z"
    assert_error(book(created["service_id"], "2031-07-01T09:00:00.000Z", "Bob"), 409, "slot_taken")


def test_a_slot_that_has_begun_is_not_listed_and_cannot_be_booked():
    created = create_service(["2020-01-01T09:00:00Z", "2031-07-01T09:00:00Z"])
    sid = created["service_id"]
    assert created["available_slots"] == ["2031-07-01T09:00:00Z"]
    assert call("GET", f"/services/{sid}").json()["available_slots"] == ["2031-07-01T09:00:00Z"]
    listed = [s for s in call("GET", "/services").json()["services"] if s["service_id"] == sid]
    assert [s["available_slots"] for s in listed] == [["2031-07-01T09:00:00Z"]]
    assert_error(book(sid, "2020-01-01T09:00:00Z"), 422, "slot_in_past")


def test_rejected_requests_change_nothing(service):
    sid, slots = service["service_id"], service["available_slots"]
    def count():
        return [count_documents(collection, sid) for collection in ("services", "bookings", "slot_claims")]

    assert book(sid, slots[0]).status_code == 201
    before = count()
    assert before == [1, 1, 1]
    for response in [book(sid, slots[0], "Bob"), book(sid, "2035-01-01T00:00:00Z"), book(sid, slots[1], ""),
                     call("POST", "/book", data="{", headers={"Content-Type": "application/json"})]:
        assert 400 <= response.status_code < 500
    assert count() == before
    assert call("GET", f"/services/{sid}").json()["available_slots"] == slots[1:]


def test_unknown_paths_and_wrong_methods():
    assert_error(call("GET", "/no/such/path"), 404, "not_found")
    assert_error(call("GET", "/services/no-such-service"), 404, "service_not_found")
    assert_error(call("GET", "/bookings/no-such-booking"), 404, "booking_not_found")
    for method, path, allow in [("DELETE", "/services", "GET, HEAD, POST"), ("GET", "/book", "POST"),
                                ("PUT", "/bookings/x", "GET, HEAD, DELETE"), ("GET", "/bookings/x/reschedule", "POST"), ("POST", "/healthz", "GET, HEAD")]:
        response = call(method, path, json={})
        assert_error(response, 405, "method_not_allowed")
        assert response.headers["Allow"] == allow


def test_head_answers_like_get_without_a_body():
    response = call("HEAD", "/services")
    assert response.status_code == 200 and response.content == b""


def test_nginx_own_errors_have_the_api_error_shape():
    assert_error(call("GET", "/book%00"), 400, "bad_request")  # nginx refuses a NUL in the path
    assert_error(call("POST", "/", data="{}"), 405, "method_not_allowed")  # the page is static
    assert_error(call("POST", "/services/.."), 405, "method_not_allowed")  # that is the page too
    assert_error(call("GET", "/services/" + "x" * 20_000), 414, "uri_too_long")
    assert_error(call("GET", "/services", headers={"X-Padding": "x" * 20_000}), 431, "headers_too_large")
    assert call("GET", "/").status_code == 200


def test_a_body_over_the_limit_gets_413_json():
    assert_error(call("POST", "/book", data="x" * 70_000, headers={"Content-Type": "application/json"}), 413, "payload_too_large")


@pytest.mark.parametrize("path", ["/book", "/services", "/nothing"])
def test_a_body_over_the_limit_gets_413_json_over_http2_too(path):
    """nginx's error_page for 413 fails over HTTP/2 (nginx/nginx#1356: the redirect to the error
    page checks the body's size again) unless the error pages' location sets no limit."""
    result = subprocess.run(["curl", "-s", "--http2", "--cacert", CA, "-X", "POST", "-H", "Content-Type: application/json",
                             "--data-binary", "x" * 70_000, "-w", "\n%{http_version} %{http_code}", url(path)],
                            capture_output=True, text=True, check=True).stdout
    body, _, status = result.rpartition("\n")
    assert status == "2 413", result
    assert json.loads(body)["error"]["code"] == "payload_too_large", body


def raw_https(request_bytes):
    """Sends bytes as they are over TLS (HTTP/1.1, no client library in between) and returns the
    status line, the headers and the body of the answer."""
    import socket
    import ssl
    from urllib.parse import urlparse
    target = urlparse(BASE)
    context = ssl.create_default_context(cafile=CA) if CA else ssl._create_unverified_context()
    context.set_alpn_protocols(["http/1.1"])
    with socket.create_connection((target.hostname, target.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(request_bytes)
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return lines[0], headers, body


def test_every_nginx_error_is_json_and_every_405_says_what_is_allowed():
    tried = {}
    for name, request in {
        "403 listing /assets/": b"GET /assets/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        "501 gzip, chunked": b"POST /book HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
        "505 HTTP/2.0 line": b"GET /services HTTP/2.0\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    }.items():
        status, headers, body = raw_https(request)
        tried[name] = status
        assert headers.get("content-type", "").startswith("application/json"), (name, status, headers, body[:200])
        error = json.loads(body)["error"]
        assert set(error) == {"code", "message"} and status.split()[1] == name[:3], (name, status, error)
    print(f"nginx's own errors: {tried}")
    # TRACE is refused by nginx before any location; its Allow must be the endpoint's, as the
    # workers give it for a method they do not take.
    for path in ["/services", "/services/x", "/book", "/bookings", "/bookings/x", "/bookings/x/reschedule", "/healthz", "/readyz", "/"]:
        status, headers, body = raw_https(f"TRACE {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        assert status.split()[1] == "405" and json.loads(body)["error"]["code"] == "method_not_allowed", (path, status)
        if path != "/":
            workers = call("PUT", path)
            assert workers.status_code == 405, (path, workers.status_code)
            assert headers["allow"] == workers.headers["Allow"], (path, headers["allow"], workers.headers["Allow"])
        else:
            assert headers["allow"] == "GET, HEAD"


def test_dot_segments_on_api_paths_are_404_not_another_path():
    # Sent raw: HTTP client libraries resolve dot segments before they send.
    for path in ["/services/..", "/services/.", "/bookings/%2e%2e", "/bookings/%2E", "/services/../book", "/book/..?x=1"]:
        status, headers, body = raw_https(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        assert status.split(" ")[1] == "404", (path, status)
        assert headers["content-type"].startswith("application/json"), (path, headers)
        assert json.loads(body)["error"]["code"] == "not_found", (path, body)


def test_the_status_line_has_its_reason_phrase_and_location_is_percent_encoded():
    status, _, _ = raw_https(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert status == "HTTP/1.1 200 OK", status
    status, _, _ = raw_https(b"GET /services/no-such-service HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert status == "HTTP/1.1 404 Not Found", status
    service_id = f"t sp {uuid.uuid4().hex[:6]}"
    created = call("POST", "/services", headers=ADMIN, json={"service_id": service_id, "service_name": "Spaced", "available_slots": []})
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/services/" + service_id.replace(" ", "%20")
    assert call("GET", created.headers["Location"]).json()["service_id"] == service_id
