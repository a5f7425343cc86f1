"""Services as businesses run them, through nginx: settings, weekly schedules in a time zone
across the nights clocks change (checked against Python's zoneinfo), the booking window and
hidden services."""

import uuid
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from stack import ADMIN, assert_error, at_once, book, call, check_store, instant

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
