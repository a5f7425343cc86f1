"""Services as businesses run them, through nginx: settings, weekly schedules in a time zone
across the nights clocks change (checked against Python's zoneinfo), the booking window and
hidden services."""

import json
import uuid
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from time import monotonic, sleep
from zoneinfo import ZoneInfo

import pytest

from stack import ADMIN, BACKEND, assert_error, at_once, book, bookingctl, call, check_store, instant

EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def new_id(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(body, status=201):
    response = call("POST", "/services", headers=ADMIN, json=body)
    assert response.status_code == status, response.text
    return response.json()


def utc(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_slots(zone, ranges, step, horizon):
    """The slots the schedule should offer, computed with zoneinfo alone: each wall-clock time
    that exists on its day, at its first occurrence; and the times skipped and repeated."""
    today = datetime.now(zone).date()
    slots, skipped, repeated = [], [], []
    for offset in range(horizon):
        day = today + timedelta(days=offset)
        for start, end in ranges:
            minute = start
            while minute + step <= end:
                naive = datetime.combine(day, time(minute // 60, minute % 60))
                first = naive.replace(tzinfo=zone, fold=0)
                if first.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != naive:
                    skipped.append(naive)
                else:
                    if first.utcoffset() != naive.replace(tzinfo=zone, fold=1).utcoffset():
                        repeated.append(naive)
                    slots.append(utc(first))
                minute += step
    return slots, skipped, repeated


@pytest.mark.parametrize("zone_name", ["America/New_York", "Europe/Berlin"])
def test_a_schedule_offers_the_wall_clock_times_zoneinfo_gives_across_both_changes_of_the_year(zone_name):
    zone = ZoneInfo(zone_name)
    service_id = new_id("dst")
    # Each night's hours around both changes (01:00-03:00 local in both zones), and a morning.
    ranges = [(0, 240), (9 * 60, 10 * 60)]
    created = create({
        "service_id": service_id, "service_name": "Night and morning", "time_zone": zone_name, "duration_minutes": 30,
        "schedule": {"weekly": {day: [["00:00", "04:00"], ["09:00", "10:00"]] for day in EVERY_DAY},
                     "slot_minutes": 30, "horizon_days": 366},
    })
    assert created["time_zone"] == zone_name
    expected, skipped, repeated = expected_slots(zone, ranges, 30, 366)
    assert len(skipped) >= 2 and len(repeated) >= 2, (skipped, repeated)  # an hour of each change, in half hours
    soon = datetime.now(timezone.utc) + timedelta(minutes=2)
    listed = call("GET", f"/services/{service_id}").json()
    future = [slot for slot in expected if instant(slot) > soon]
    assert [slot for slot in listed["available_slots"] if instant(slot) > soon] == future
    assert [s["start"] for s in listed["slots"] if instant(s["start"]) > soon] == future
    assert all(instant(s["end"]) - instant(s["start"]) == timedelta(minutes=30) and s["seats_left"] == 1 for s in listed["slots"])

    # The first occurrence of a repeated half hour is booked once; its second occurrence is not offered.
    repeated_first = repeated[0].replace(tzinfo=zone, fold=0)
    repeated_second = repeated[0].replace(tzinfo=zone, fold=1)
    assert book(service_id, utc(repeated_first)).status_code == 201
    assert_error(book(service_id, utc(repeated_first), "Bob"), 409, "slot_taken")
    assert_error(book(service_id, utc(repeated_second)), 422, "slot_not_offered")
    # The half hour after a skipped one exists, and is offered at its one instant.
    after_gap = (skipped[-1] + timedelta(minutes=30)).replace(tzinfo=zone)
    assert utc(after_gap) in listed["available_slots"]
    assert book(service_id, utc(after_gap)).status_code == 201
    assert len(check_store(service_id)) == 2
    listed = call("GET", f"/services/{service_id}").json()["available_slots"]
    assert utc(repeated_first) not in listed and utc(after_gap) not in listed


def test_settings_are_stored_shown_and_validated():
    service_id = new_id("settings")
    body = {
        "service_id": service_id, "service_name": "Physio", "description": "Forty-five minutes.\nBring a towel.",
        "time_zone": "Europe/Berlin", "duration_minutes": 45, "min_notice_minutes": 0, "max_advance_days": 3660,
        "schedule": {"weekly": {"wed": [["13:00", "17:00"], ["09:00", "12:00"]]}, "slot_minutes": 60, "horizon_days": 14,
                     "closed_dates": ["2031-12-25"]},
        "available_slots": ["2031-03-04T09:00:00Z"],
    }
    created = create(body)
    shown = call("GET", f"/services/{service_id}").json()
    assert shown == created
    for field in ["description", "time_zone", "duration_minutes", "min_notice_minutes", "max_advance_days"]:
        assert shown[field] == body[field]
    assert shown["hidden"] is False
    assert shown["schedule"] == {"weekly": {"wed": [["09:00", "12:00"], ["13:00", "17:00"]]}, "slot_minutes": 60,
                                 "horizon_days": 14, "closed_dates": ["2031-12-25"]}
    assert shown["available_slots"][-1] == "2031-03-04T09:00:00Z"
    # Wednesdays' hours in Berlin: seven slots a day (today's may have begun), on the one or two Wednesdays of 14 days.
    berlin = ZoneInfo("Europe/Berlin")
    local = [instant(slot).astimezone(berlin) for slot in shown["available_slots"][:-1]]
    assert all(moment.weekday() == 2 and moment.hour in (9, 10, 11, 13, 14, 15, 16) and moment.minute == 0 for moment in local)
    days = sorted({moment.date() for moment in local})
    assert 1 <= len(days) <= 2 and sum(moment.date() == days[-1] for moment in local) == 7

    # A plain service shows the defaults.
    plain = create({"service_name": "Plain", "available_slots": ["2031-03-04T09:00:00Z"]})
    assert plain["time_zone"] == "UTC" and plain["hidden"] is False and "schedule" not in plain
    assert plain["slots"] == [{"start": "2031-03-04T09:00:00Z", "seats_left": 1}]

    for bad, status, code in [
        ({"time_zone": "Mars/Olympus"}, 422, "invalid_field"),
        ({"time_zone": "EST"}, 422, "invalid_field"),
        ({"duration_minutes": 0}, 422, "invalid_field"),
        ({"duration_minutes": 30.5}, 400, "invalid_request"),
        ({"hidden": "yes"}, 400, "invalid_request"),
        ({"schedule": {"weekly": {"mon": [["09:00", "08:00"]]}}}, 422, "invalid_field"),
        ({"schedule": {"weekly": {"someday": []}}}, 422, "invalid_field"),
        ({"schedule": {"weekly": {"mon": "09:00-12:00"}}}, 400, "invalid_request"),
        ({"schedule": {"weekly": {}, "slot_minute": 30}}, 400, "invalid_request"),
        ({"schedule": {"weekly": {d: [["00:00", "24:00"]] for d in EVERY_DAY}, "slot_minutes": 5, "horizon_days": 366}}, 422, "invalid_field"),
        ({"schedule": {"weekly": {}, "closed_dates": ["2031-02-30"]}}, 422, "invalid_field"),
    ]:
        bad_id = new_id("bad")
        assert_error(call("POST", "/services", headers=ADMIN, json={"service_id": bad_id, "service_name": "Bad", **bad}), status, code)
        assert_error(call("GET", f"/services/{bad_id}"), 404, "service_not_found")


def test_the_booking_window_limits_what_is_listed_and_booked():
    service_id = new_id("window")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    too_soon, fine, too_far = now + timedelta(minutes=30), now + timedelta(hours=3), now + timedelta(days=3)
    create({"service_id": service_id, "service_name": "Window", "min_notice_minutes": 60, "max_advance_days": 2,
            "available_slots": [utc(too_soon), utc(fine), utc(too_far)]})
    assert call("GET", f"/services/{service_id}").json()["available_slots"] == [utc(fine)]
    assert_error(book(service_id, utc(too_soon)), 422, "slot_too_soon")
    assert_error(book(service_id, utc(too_far)), 422, "slot_too_far_ahead")
    assert book(service_id, utc(fine)).status_code == 201
    assert len(check_store(service_id)) == 1


def test_a_hidden_service_is_not_listed_but_is_shown_and_bookable_by_id():
    service_id = new_id("hidden")
    slot = "2031-05-06T09:00:00Z"
    create({"service_id": service_id, "service_name": "Staff only", "hidden": True, "available_slots": [slot]})
    # The catalog nginx serves and the one the workers build alike.
    for headers in [{}, {"Accept-Encoding": "gzip"}]:
        listed = call("GET", "/services", headers=headers).json()["services"]
        assert service_id not in [s["service_id"] for s in listed]
    assert service_id not in [s["service_id"] for s in call("GET", "/services?from=2031-01-01T00:00:00Z").json()["services"]]
    shown = call("GET", f"/services/{service_id}").json()
    assert shown["hidden"] is True and shown["available_slots"] == [slot]
    assert book(service_id, slot).status_code == 201


def test_sixty_clients_racing_for_a_slot_with_three_seats_get_exactly_three_bookings():
    service_id = new_id("seats")
    slot = "2031-05-06T18:00:00Z"
    created = create({"service_id": service_id, "service_name": "Spin class", "seats": 3, "available_slots": [slot]})
    assert created["seats"] == 3 and created["slots"] == [{"start": slot, "seats_left": 3}]
    answers = at_once(*[
        (lambda session, n=n: call("POST", "/book", session=session, json={"service_id": service_id, "slot": slot, "user_name": f"Rider {n}"}))
        for n in range(60)
    ])
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {201: 3, 409: 57}, statuses
    assert all(answer.json()["error"]["code"] == "slot_taken" for answer in answers if answer.status_code == 409)
    held = check_store(service_id, seats=3)
    assert sorted(int(b.get("seat", 1)) for b in held) == [1, 2, 3]
    assert call("GET", f"/services/{service_id}").json()["available_slots"] == []

    # A cancellation frees its seat, listed at once and taken again.
    made = [answer.json() for answer in answers if answer.status_code == 201]
    cancelled = call("DELETE", f"/bookings/{made[1]['booking_id']}", headers={"Authorization": f"Bearer {made[1]['manage_token']}"})
    assert cancelled.status_code == 200, cancelled.text
    assert call("GET", f"/services/{service_id}").json()["slots"] == [{"start": slot, "seats_left": 1}]
    assert book(service_id, slot, "Waiting list").status_code == 201
    assert_error(book(service_id, slot, "Late"), 409, "slot_taken")
    assert len(check_store(service_id, seats=3)) == 3


def test_a_booking_moves_into_a_free_seat_and_frees_its_own():
    service_id = new_id("seats-move")
    slots = ["2031-05-06T18:00:00Z", "2031-05-06T19:00:00Z"]
    create({"service_id": service_id, "service_name": "Yoga", "seats": 2, "available_slots": slots})
    first, second = book(service_id, slots[0]).json(), book(service_id, slots[0], "Bob").json()
    assert book(service_id, slots[1], "Cy").status_code == 201
    admin_move = call("POST", f"/bookings/{second['booking_id']}/reschedule", headers=ADMIN, json={"slot": slots[1]})
    assert admin_move.status_code == 200 and admin_move.json()["slot"] == slots[1]
    assert_error(call("POST", f"/bookings/{first['booking_id']}/reschedule", headers=ADMIN, json={"slot": slots[1]}), 409, "slot_taken")
    listed = call("GET", f"/services/{service_id}").json()
    assert listed["slots"] == [{"start": slots[0], "seats_left": 1}]
    assert len(check_store(service_id, seats=2)) == 3


def patch(service_id, body, query="", headers=None):
    return call("PATCH", f"/services/{service_id}{query}", headers={**ADMIN, "Content-Type": "application/merge-patch+json", **(headers or {})},
                data=json.dumps(body))


def test_a_merge_patch_edits_a_service_and_null_restores_a_default():
    service_id = new_id("edit")
    slots = ["2031-05-06T09:00:00Z", "2031-05-06T10:00:00Z"]
    create({"service_id": service_id, "service_name": "Cut", "description": "Short", "hidden": True, "available_slots": slots})
    edited = patch(service_id, {"service_name": "Cut and wash", "description": None, "hidden": None, "seats": 2, "duration_minutes": 45,
                                "available_slots": slots + ["2031-05-06T11:00:00Z"], "time_zone": "Europe/Berlin",
                                "schedule": {"weekly": {"sat": [["10:00", "12:00"]]}, "slot_minutes": 60, "horizon_days": 7}})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["service_name"] == "Cut and wash" and "description" not in body and body["hidden"] is False
    assert body["seats"] == 2 and body["duration_minutes"] == 45 and body["time_zone"] == "Europe/Berlin"
    assert body["schedule"]["weekly"] == {"sat": [["10:00", "12:00"]]}
    assert slots[0] in body["available_slots"] and "2031-05-06T11:00:00Z" in body["available_slots"]
    assert call("GET", f"/services/{service_id}").json() == body
    assert service_id in [s["service_id"] for s in call("GET", "/services").json()["services"]], "no longer hidden: listed"
    # Plain application/json is a merge patch too; a schedule member removed by null.
    assert call("PATCH", f"/services/{service_id}", headers=ADMIN, json={"schedule": None}).json().get("schedule") is None

    for bad, status, code in [
        ({"service_id": "another"}, 422, "invalid_field"),
        ({"seats": 0}, 422, "invalid_field"),
        ({"service_name": None}, 400, "invalid_request"),
        ({"time_zone": "Nowhere/Else"}, 422, "invalid_field"),
    ]:
        assert_error(patch(service_id, bad), status, code)
    assert_error(call("PATCH", f"/services/{service_id}", headers={**ADMIN, "Content-Type": "text/plain"}, data="{}"), 415, "unsupported_media_type")
    assert_error(call("PATCH", f"/services/{service_id}", headers={**ADMIN, "Content-Type": "application/merge-patch+json"}, data="[1]"),
                 400, "invalid_request")
    assert_error(call("PATCH", f"/services/{service_id}", json={"seats": 3}), 401, "unauthorized")
    assert_error(patch("no-such-service", {"seats": 3}), 404, "service_not_found")
    assert_error(patch(service_id, {"seats": 3}, query="?cancel_bookings=maybe"), 400, "invalid_request")
    assert call("GET", f"/services/{service_id}").json()["seats"] == 2, "refused patches changed nothing"


def test_removing_booked_slots_or_seats_is_refused_with_the_bookings_unless_they_are_cancelled():
    service_id = new_id("held")
    slots = ["2031-05-06T09:00:00Z", "2031-05-06T10:00:00Z", "2031-05-06T11:00:00Z"]
    create({"service_id": service_id, "service_name": "Class", "seats": 3, "available_slots": slots})
    first = book(service_id, slots[0]).json()
    second, third = book(service_id, slots[1], "Bob").json(), book(service_id, slots[1], "Cy").json()

    refused = patch(service_id, {"available_slots": slots[1:]})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "slot_has_bookings"
    assert refused.json()["error"]["bookings"] == [{"booking_id": first["booking_id"], "slot": slots[0]}]
    fewer_seats = patch(service_id, {"seats": 1})
    assert fewer_seats.status_code == 409
    assert fewer_seats.json()["error"]["bookings"] == [{"booking_id": third["booking_id"], "slot": slots[1]}], "the latest made goes"
    assert call("GET", f"/services/{service_id}").json()["seats"] == 3

    # Removing a free slot and lowering seats to what is held are fine.
    assert patch(service_id, {"available_slots": slots[:2], "seats": 2}).status_code == 200
    moved = patch(service_id, {"available_slots": slots[1:2], "seats": 1}, query="?cancel_bookings=true")
    assert moved.status_code == 200, moved.text
    assert moved.json()["available_slots"] == []
    statuses = {b: call("GET", f"/bookings/{b}").json()["status"] for b in (first["booking_id"], second["booking_id"], third["booking_id"])}
    assert statuses == {first["booking_id"]: "cancelled", second["booking_id"]: "confirmed", third["booking_id"]: "cancelled"}
    assert len(check_store(service_id)) == 1


def test_a_retired_service_is_gone_from_listing_and_booking_and_its_bookings_stay():
    service_id = new_id("retire")
    slots = ["2031-05-06T09:00:00Z", "2031-05-06T10:00:00Z"]
    create({"service_id": service_id, "service_name": "Old", "available_slots": slots})
    made = book(service_id, slots[0]).json()
    refused = call("DELETE", f"/services/{service_id}", headers=ADMIN)
    assert refused.status_code == 409 and refused.json()["error"]["bookings"][0]["booking_id"] == made["booking_id"]
    assert call("GET", f"/services/{service_id}").status_code == 200
    assert_error(call("DELETE", f"/services/{service_id}"), 401, "unauthorized")

    retired = call("DELETE", f"/services/{service_id}?cancel_bookings=true", headers=ADMIN)
    assert retired.status_code == 200, retired.text
    assert retired.json()["cancelled_bookings"] == [made["booking_id"]] and retired.json()["retired_at"]
    assert_error(call("GET", f"/services/{service_id}"), 404, "service_not_found")
    assert service_id not in [s["service_id"] for s in call("GET", "/services").json()["services"]]
    assert_error(book(service_id, slots[1]), 404, "service_not_found")
    assert call("GET", f"/bookings/{made['booking_id']}").json()["status"] == "cancelled"
    assert [b["booking_id"] for b in call("GET", f"/bookings?service_id={service_id}", headers=ADMIN).json()["bookings"]] == [made["booking_id"]]
    assert_error(call("DELETE", f"/services/{service_id}", headers=ADMIN), 404, "service_not_found")
    assert_error(call("POST", "/services", headers=ADMIN, json={"service_id": service_id, "service_name": "Again", "available_slots": slots}),
                 409, "service_exists")
    assert check_store(service_id) == []


def test_bookingctl_lists_shows_hides_and_retires_services_and_the_site_follows_within_the_cache_bound():
    service_id = new_id("ctl")
    slots = ["2031-05-06T09:00:00Z", "2031-05-06T10:00:00Z"]
    create({"service_id": service_id, "service_name": "Front desk", "seats": 4, "time_zone": "Europe/Berlin", "available_slots": slots})
    made = book(service_id, slots[0]).json()

    listed = bookingctl("services", "list", "--backend", BACKEND)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.decode().splitlines()]  # not a terminal: tab-separated
    assert rows[0] == ["service_id", "free", "seats", "time_zone", "hidden", "service_name"]
    assert [service_id, "2", "4", "Europe/Berlin", "listed", "Front desk"] in rows
    shown = json.loads(bookingctl("services", "show", "--backend", BACKEND, "--json", service_id).stdout)
    assert shown["slots"] == [{"start": slots[0], "seats_left": 3}, {"start": slots[1], "seats_left": 4}]
    summary = bookingctl("services", "show", "--backend", BACKEND, service_id).stdout.decode().splitlines()
    assert f"service_id: {service_id}" in summary and "free_slots: 2" in summary and f"next_free_slot: {slots[0]}" in summary

    def listed_on_the_site():
        return service_id in [s["service_id"] for s in call("GET", "/services").json()["services"]]

    def within_the_cache_bound(condition):
        start = monotonic()
        while not condition():
            assert monotonic() - start < 1 + 1.5, "not seen after READ_CACHE_SECONDS (1 s)"
            sleep(0.05)

    assert bookingctl("services", "hide", "--backend", BACKEND, service_id).returncode == 0
    within_the_cache_bound(lambda: not listed_on_the_site())
    assert json.loads(bookingctl("services", "list", "--backend", BACKEND, "--json").stdout)["services"][0]["service_id"] is not None
    assert book(service_id, slots[1], "By link").status_code == 201, "hidden, still bookable by id"
    assert bookingctl("services", "hide", "--backend", BACKEND, "--unhide", service_id).returncode == 0
    within_the_cache_bound(listed_on_the_site)

    refused = bookingctl("services", "retire", "--backend", BACKEND, service_id)
    assert refused.returncode == 1 and made["booking_id"] in refused.stderr.decode()
    assert call("GET", f"/services/{service_id}").status_code == 200
    retired = bookingctl("services", "retire", "--backend", BACKEND, "--cancel-bookings", "--json", service_id)
    assert retired.returncode == 0 and len(json.loads(retired.stdout)["cancelled_bookings"]) == 2, retired.stdout
    within_the_cache_bound(lambda: call("GET", f"/services/{service_id}").status_code == 404)
    assert not listed_on_the_site()
    assert_error(book(service_id, slots[1], "Late"), 404, "service_not_found")
    assert check_store(service_id, seats=4) == []


def test_catalog_reads_carry_one_etag_whichever_way_they_are_sent_and_if_none_match_gets_304():
    service_id = new_id("etag")
    slots = ["2031-05-06T09:00:00Z", "2031-05-06T10:00:00Z"]
    create({"service_id": service_id, "service_name": "Tagged", "available_slots": slots})
    for encoding in ("identity", "gzip"):
        # The catalog nginx serves from the published file (after the workers published this
        # second's), and the same body from the workers (a precondition takes it there).
        tags = set()
        for _ in range(6):
            tags.add(call("GET", "/services", headers={"Accept-Encoding": encoding}).headers["ETag"])
            sleep(0.1)
        from_workers = call("GET", "/services", headers={"Accept-Encoding": encoding, "If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})
        assert from_workers.status_code == 200
        tags.add(from_workers.headers["ETag"])
        assert len(tags) == 1, tags
        tag = tags.pop()
        unchanged = call("GET", "/services", headers={"Accept-Encoding": encoding, "If-None-Match": tag})
        assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["ETag"] == tag
        assert unchanged.headers["Cache-Control"] == "no-cache"
        one = call("GET", f"/services/{service_id}", headers={"Accept-Encoding": encoding})
        assert one.headers["Cache-Control"] == "no-cache"
        assert call("GET", f"/services/{service_id}", headers={"Accept-Encoding": encoding, "If-None-Match": f'W/{one.headers["ETag"]}'}).status_code == 304
    one = call("GET", f"/services/{service_id}")
    assert book(service_id, slots[0]).status_code == 201
    changed = call("GET", f"/services/{service_id}", headers={"If-None-Match": one.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != one.headers["ETag"]
    assert changed.json()["available_slots"] == slots[1:]
    ranged = call("GET", f"/services/{service_id}?from=2031-05-06T10:00:00Z")
    assert call("GET", f"/services/{service_id}?from=2031-05-06T10:00:00Z", headers={"If-None-Match": ranged.headers["ETag"]}).status_code == 304
