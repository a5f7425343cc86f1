"""Customers' emails through the outbox and a local mail server (mail.py): a confirmation with a
calendar invitation, an update and a cancellation of the same event, the instant right across a
daylight-saving change (parsed by the icalendar package); a mail server that defers for a while
gets everything afterwards, once; one that refuses a recipient for good is given up at once;
STARTTLS with a login and smtps:// work."""

import json
import os
import tempfile
import time
import uuid
from datetime import datetime, timezone

import icalendar
import pytest

from mail import MailServer, parts
from stack import ADMIN, RUN_DIR, book, bookingctl, call, count_documents, restart_app, store_documents, wait_until

SENDER = "Salon Bookings <bookings@salon.example>"
PUBLIC_URL = "https://booking.salon.example"
# Berlin's clocks go forward at 01:00 UTC on 31 March 2030: 10:00 there is 09:00 UTC the day
# before and 08:00 UTC that day.
BEFORE, AFTER = "2030-03-30T10:00:00+01:00", "2030-03-31T10:00:00+02:00"


def restart_with(server, **more):
    restart_app("wait_for_health", SMTP_URL=server.url, MAIL_FROM=SENDER, PUBLIC_URL=PUBLIC_URL, **more)


@pytest.fixture(scope="module")
def mail():
    server = MailServer()
    restart_with(server)
    try:
        yield server
    finally:
        restart_app("wait_for_health")
        server.stop()


def berlin_service(slots=(BEFORE, AFTER)):
    service_id = f"e2e-mail-{uuid.uuid4().hex[:10]}"
    response = call("POST", "/services", headers=ADMIN, json={
        "service_id": service_id, "service_name": "Haircut & Beard", "available_slots": list(slots),
        "time_zone": "Europe/Berlin", "duration_minutes": 45})
    assert response.status_code == 201, response.text
    return service_id


def book_with_email(service_id, slot, address, name="Zoë Ünal"):
    response = call("POST", "/book", json={"service_id": service_id, "slot": slot, "user_name": name, "email": address})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_booking_its_move_and_its_cancellation_email_the_customer_one_calendar_event(mail):
    service_id = berlin_service()
    address = f"zoe-{uuid.uuid4().hex[:8]}@example.org"
    made = book_with_email(service_id, AFTER, address)
    assert made["confirmation_email_queued"] is True
    plain = book(service_id, BEFORE, user_name="No Address").json()
    assert plain["confirmation_email_queued"] is False
    assert call("DELETE", f"/bookings/{plain['booking_id']}", headers=ADMIN).status_code == 200
    token = {"Authorization": f"Bearer {made['manage_token']}"}
    assert call("POST", f"/bookings/{made['booking_id']}/reschedule", json={"slot": BEFORE}, headers=token).status_code == 200
    assert call("DELETE", f"/bookings/{made['booking_id']}", headers=token).status_code == 200

    messages = mail.wait_for(address, 3)
    time.sleep(1.0)  # and nothing more comes
    messages = mail.to(address)
    print(f"emails to the customer: {[m['Subject'] for m in messages]}")
    assert len(messages) == 3
    created, moved, cancelled = messages
    assert created["Subject"] == "Booking confirmed: Haircut & Beard, Sun 31 Mar 2030, 10:00"
    assert created["To"].addresses[0].display_name == "Zoë Ünal" and created["To"].addresses[0].addr_spec == address
    assert created["From"] == SENDER and created["Message-ID"] != moved["Message-ID"]

    text, calendar = parts(created)
    assert "Sunday 31 March 2030, 10:00 (Europe/Berlin, UTC+02:00)" in text and made["booking_id"] in text
    link = f"{PUBLIC_URL}/#manage/{made['booking_id']}/{made['manage_token']}"
    assert link in text
    assert calendar.get_content_type() == "text/calendar" and calendar.get_param("method") == "REQUEST"
    assert calendar.get_filename() == "invitation.ics"

    events = []
    for message in messages:
        ics = icalendar.Calendar.from_ical(parts(message)[1].get_content())
        event = next(component for component in ics.walk("VEVENT"))
        events.append((str(ics["METHOD"]), str(event["UID"]), int(event["SEQUENCE"]), event.decoded("DTSTART"), event.decoded("DTEND"),
                       str(event["STATUS"])))
    print(f"invitations: {events}")
    assert len({uid for _, uid, *_ in events}) == 1, "one calendar event for the booking's life"
    assert [(method, sequence, status) for method, _, sequence, _, _, status in events] == [
        ("REQUEST", 0, "CONFIRMED"), ("REQUEST", 1, "CONFIRMED"), ("CANCEL", 2, "CANCELLED")]
    after, before = datetime(2030, 3, 31, 8, 0, tzinfo=timezone.utc), datetime(2030, 3, 30, 9, 0, tzinfo=timezone.utc)
    assert events[0][3] == after and (events[0][4] - events[0][3]).total_seconds() == 45 * 60
    assert events[1][3] == before and events[2][3] == before
    assert "Saturday 30 March 2030, 10:00 (Europe/Berlin, UTC+01:00)" in parts(moved)[0]
    assert "#manage/" not in parts(cancelled)[0]

    assert count_documents("booking_emails", service_id) == 0, "delivered: out of the outbox"
    kept = store_documents("booking_emails_delivered", service_id)
    assert len(kept) == 3 and not any("manage_token" in document for document in kept), "the token is not kept once sent"
    assert not any(address in m["to"] for m in mail.messages if m["to"] != [address]), "to the customer alone"


def test_a_mail_server_that_defers_gets_everything_later_once_and_a_refused_address_is_given_up(mail):
    service_id = berlin_service()
    addresses = [f"late-{n}-{uuid.uuid4().hex[:6]}@example.org" for n in range(2)]
    refused = f"nobody-{uuid.uuid4().hex[:6]}@example.org"
    with mail.lock:
        mail.down, deferred_before = True, mail.deferred
        mail.refused.add(refused)
    made = [book_with_email(service_id, slot, address) for slot, address in zip((BEFORE, AFTER), addresses)]
    assert wait_until(lambda: mail.deferred - deferred_before >= 2, 10), "tried while the server deferred"
    listed = bookingctl("events", "list", "--channel", "email", "--json")
    assert listed.returncode == 0, listed.stderr
    assert all(row["channel"] == "email" for row in json.loads(listed.stdout))
    time.sleep(1.5)
    with mail.lock:
        mail.down = False
    assert all(len(mail.wait_for(address, 1, 30)) == 1 for address in addresses)
    time.sleep(1.0)
    assert all(len(mail.to(address)) == 1 for address in addresses), "once each"

    other = berlin_service(("2030-04-02T10:00:00+02:00",))
    gone = book_with_email(other, "2030-04-02T10:00:00+02:00", refused)
    event_id = f"{gone['booking_id']}.000000"

    def listed_email_events():
        return {row["event_id"]: row for row in json.loads(bookingctl("events", "list", "--channel", "email", "--json").stdout)}

    assert wait_until(lambda: listed_email_events().get(event_id, {}).get("state") == "failed", 10), listed_email_events()
    row = listed_email_events()[event_id]
    print(f"a refused address: {row}")
    assert "550" in row["last_error"] and row["attempts"] == "1", "given up at the first refusal, not retried for a day"
    assert made and len(mail.to(refused)) == 0


@pytest.mark.parametrize("tls", ["starttls", "smtps"])
def test_the_mail_server_may_require_tls_and_a_login(mail, tls):
    with tempfile.TemporaryDirectory(dir=RUN_DIR) as folder:
        os.chmod(folder, 0o755)  # the workers (another user, under root) read the certificate
        secure = MailServer(tls=tls, login=("booking", "s3cret-passw0rd"), folder=folder)
        try:
            restart_with(secure, SMTP_CA_FILE=secure.cert)
            address = f"tls-{uuid.uuid4().hex[:8]}@example.org"
            book_with_email(berlin_service(), AFTER, address)
            received = secure.wait_for(address, 1)
            assert len(received) == 1
            with secure.lock:
                seen = [m for m in secure.messages if address in m["to"]][0]
            print(f"{tls}: encrypted {seen['tls']}, logged in {seen['login']}")
            assert seen["tls"] and seen["login"]
        finally:
            restart_with(mail)
            secure.stop()


def test_a_password_is_never_sent_to_a_server_without_starttls(mail):
    plain = MailServer(login=("booking", "never-in-the-clear-0123"))  # would take a login without TLS
    try:
        restart_with(plain)
        address = f"clear-{uuid.uuid4().hex[:8]}@example.org"
        book_with_email(berlin_service(), AFTER, address)
        time.sleep(2.5)
        with open(os.path.join(RUN_DIR, "log", "booking-server.log"), errors="replace") as log:
            logged = log.read()
        print(f"no STARTTLS offered: {plain.logins} logins tried, {len(plain.to(address))} messages; "
              f"{logged.count('STARTTLS') + logged.count('SSL')} log lines on TLS")
        assert plain.logins == 0 and plain.to(address) == [], "not even tried without TLS"
        assert "never-in-the-clear" not in logged, "nor logged"
    finally:
        restart_with(mail)
        plain.stop()
