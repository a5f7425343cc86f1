"""The booking page in a real browser (headless chromium through Selenium), against the real stack."""

import os
import uuid
from zoneinfo import ZoneInfo

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from mail import MailServer, parts
from stack import ADMIN, BASE, call, create_service, deploy, instant, restart_app

SCREENSHOTS = os.path.join(os.environ.get("RUN_DIR", "."), "screenshots")
# New York in January is UTC-5: 04:30Z on the 16th is 11:30 PM on the 15th there.
SLOTS = ["2031-01-15T14:00:00Z", "2031-01-15T15:30:00Z", "2031-01-16T04:30:00Z", "2031-01-16T14:00:00Z"]


def screenshot(driver, name):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SCREENSHOTS, f"{name}.png"))


def new_service(name, service_id=None):
    return create_service(SLOTS + ["2020-01-01T10:00:00Z"], name=f"{name} {uuid.uuid4().hex[:4]}", service_id=service_id)


def wait(driver, condition, seconds=10):
    return WebDriverWait(driver, seconds).until(condition)


NEW_YORK = ZoneInfo("America/New_York")


def local_day(slot):
    """The visitor's (New York's) date of a slot, as the page keys its day buttons."""
    return instant(slot).astimezone(NEW_YORK).date().isoformat()


def section(driver, service):
    """The service's card in the list of services."""
    return wait(driver, ready.presence_of_element_located((By.CSS_SELECTOR, f'section[data-service-id="{service["service_id"]}"]')))


def open_service(driver, service):
    """Opens the service's days and times through its deep link, /?service={id}."""
    driver.get(f"{BASE}/?service={service['service_id']}")
    wait(driver, lambda d: d.find_element(By.ID, "service-title").text == service["service_name"])
    return driver.find_element(By.ID, "service-view")


def slot_button(driver, slot):
    """In the open service: chooses the slot's day, and gives the slot's time button."""
    wait(driver, ready.element_to_be_clickable((By.CSS_SELECTOR, f'#days button[data-day="{local_day(slot)}"]'))).click()
    return wait(driver, ready.element_to_be_clickable((By.CSS_SELECTOR, f'#times button[data-slot="{slot}"]')))


def free_slots(driver):
    """Every time the open service offers, day by day."""
    wait(driver, ready.visibility_of_element_located((By.ID, "service-view")))
    slots = []
    for day in [b.get_attribute("data-day") for b in driver.find_elements(By.CSS_SELECTOR, "#days button.day")]:
        driver.find_element(By.CSS_SELECTOR, f'#days button[data-day="{day}"]').click()
        slots += [b.get_attribute("data-slot") for b in driver.find_elements(By.CSS_SELECTOR, "#times button.slot")]
    return slots


def book_in(driver, slot, name, email=None):
    """Chooses the slot, types the name (and the email, when given: "" empties the field), books."""
    slot_button(driver, slot).click()
    for field, value in (("user-name", name), ("email", email)):
        if value is not None:
            driver.find_element(By.ID, field).clear()
            driver.find_element(By.ID, field).send_keys(value)
    driver.find_element(By.ID, "book-button").click()


def test_a_customer_picks_a_service_then_a_day_then_a_time_in_the_visitors_time_zone(browser):
    service = new_service("Haircut")
    hidden = create_service(SLOTS, name="Staff only")
    assert call("PATCH", f"/services/{hidden['service_id']}", headers=ADMIN, json={"hidden": True}).status_code == 200
    browser.get(BASE + "/")
    card = section(browser, service)
    assert "Eastern Standard Time (America/New_York)" in browser.find_element(By.ID, "time-zone").text
    assert "Next free: Wednesday, January 15, 2031" in card.text
    assert not browser.find_elements(By.CSS_SELECTOR, f'section[data-service-id="{hidden["service_id"]}"]'), "hidden services are not listed"
    screenshot(browser, "desktop-services")
    card.find_element(By.CSS_SELECTOR, "button.open-service").click()
    view = wait(browser, ready.visibility_of_element_located((By.ID, "service-view")))
    assert browser.current_url == f"{BASE}/?service={service['service_id']}"
    assert not browser.find_element(By.ID, "services").is_displayed()
    days = browser.find_elements(By.CSS_SELECTOR, "#days button.day")
    assert [(b.text, b.get_attribute("aria-pressed")) for b in days] == [("Wed, Jan 15", "true"), ("Thu, Jan 16", "false")]
    assert browser.switch_to.active_element == days[0]
    # 04:30Z on the 16th is 11:30 PM on the 15th in New York; the 2020 slot is offered to no one.
    assert [b.text for b in view.find_elements(By.CSS_SELECTOR, "#times button.slot")] == ["09:00 AM", "10:30 AM", "11:30 PM"]
    assert free_slots(browser) == SLOTS
    screenshot(browser, "desktop-service")
    browser.back()
    wait(browser, ready.visibility_of_element_located((By.ID, "services")))
    assert not browser.find_element(By.ID, "service-view").is_displayed()


def test_a_service_shows_its_description_duration_places_and_the_business_zone_when_it_differs(phone):
    service = create_service(SLOTS, name="Spin class")
    patched = call("PATCH", f"/services/{service['service_id']}", headers=ADMIN,
                   json={"description": "Indoor cycling.\nBring water.", "duration_minutes": 45, "seats": 3, "time_zone": "Europe/Berlin"})
    assert patched.status_code == 200, patched.text
    assert call("POST", "/book", json={"service_id": service["service_id"], "slot": SLOTS[0], "user_name": "Early"}).status_code == 201
    view = open_service(phone, service)
    assert view.find_element(By.ID, "service-description").text == "Indoor cycling.\nBring water."
    assert view.find_element(By.ID, "service-facts").text == "45 min · 3 places per time · the business is in Europe/Berlin time"
    times = [b.text for b in view.find_elements(By.CSS_SELECTOR, "#times button.slot")]
    assert times == ["09:00 AM · 2 places left", "10:30 AM · 3 places left", "11:30 PM · 3 places left"]
    screenshot(phone, "phone-service")


def test_a_deep_link_opens_a_hidden_service_and_an_unknown_one_says_so(browser):
    hidden = create_service(SLOTS, name="By invitation")
    call("PATCH", f"/services/{hidden['service_id']}", headers=ADMIN, json={"hidden": True})
    assert free_slots_of(browser, hidden) == SLOTS
    browser.get(f"{BASE}/?service=no-such-service")
    status = wait(browser, lambda d: d.find_element(By.ID, "status").text.startswith("There is no such service") and d.find_element(By.ID, "status"))
    assert status.is_displayed() and not browser.find_element(By.ID, "service-view").is_displayed()
    wait(browser, ready.visibility_of_element_located((By.CSS_SELECTOR, "#services section.service")))  # the list instead


def free_slots_of(driver, service):
    open_service(driver, service)
    return free_slots(driver)


def test_a_customer_books_sees_the_confirmation_and_the_slot_is_gone_after_a_reload(browser):
    service = new_service("Massage")
    open_service(browser, service)
    book_in(browser, SLOTS[1], "Ann Smith")
    confirmation = wait(browser, ready.visibility_of_element_located((By.ID, "confirmation")))
    booking_id = confirmation.get_attribute("data-booking-id")
    assert booking_id and booking_id in confirmation.text
    assert "Wednesday, January 15, 2031" in confirmation.text and "10:30 AM" in confirmation.text
    assert browser.switch_to.active_element.text == "Booked"
    screenshot(browser, "desktop-confirmation")
    booking = call("GET", f"/bookings/{booking_id}").json()
    assert (booking["slot"], booking["user_name"]) == (SLOTS[1], "Ann Smith")
    assert SLOTS[1] not in free_slots(browser), "gone at once"
    browser.refresh()
    assert free_slots(browser) == [SLOTS[0], SLOTS[2], SLOTS[3]]


def manage_link(driver):
    confirmation = wait(driver, ready.visibility_of_element_located((By.ID, "confirmation")))
    link = confirmation.find_element(By.ID, "manage-link").get_attribute("href")
    return confirmation.get_attribute("data-booking-id"), link


def test_the_confirmation_gives_a_manage_link_that_moves_and_cancels_the_booking(browser):
    service = new_service("Manage")
    open_service(browser, service)
    book_in(browser, SLOTS[0], "Ann Manage", "ann@example.com")
    booking_id, link = manage_link(browser)
    assert not browser.find_element(By.ID, "confirmation-email").is_displayed(), "no mail server here: no word of an email"
    fragment = link.split("#", 1)[1]
    assert link.startswith(BASE + "/#manage/") and fragment.startswith(f"manage/{booking_id}/"), link
    token = fragment.rsplit("/", 1)[1]
    owner = {"Authorization": f"Bearer {token}"}
    assert call("GET", f"/bookings/{booking_id}", headers=owner).json()["email"] == "ann@example.com"

    browser.get(link)
    manage = wait(browser, ready.visibility_of_element_located((By.ID, "manage")))
    wait(browser, lambda _: "Ann Manage" in manage.text)
    assert "Wednesday, January 15, 2031" in manage.text and "9:00 AM" in manage.text.replace("09:00", "9:00")
    assert not browser.find_element(By.ID, "services").is_displayed(), "only the booking, not the catalog"
    screenshot(browser, "desktop-manage")
    browser.find_element(By.ID, "move-button").click()
    wait(browser, ready.visibility_of_element_located((By.CSS_SELECTOR, f'#move-slots button[data-slot="{SLOTS[3]}"]'))).click()
    wait(browser, lambda _: manage.find_element(By.ID, "manage-text").text.startswith("Moved."))
    assert "Thursday, January 16, 2031" in manage.text
    assert call("GET", f"/bookings/{booking_id}").json()["slot"] == SLOTS[3]
    assert SLOTS[0] in call("GET", f"/services/{service['service_id']}").json()["available_slots"]

    browser.find_element(By.ID, "cancel-button").click()
    confirm = wait(browser, ready.visibility_of_element_located((By.ID, "confirm-cancel")))
    assert browser.switch_to.active_element == confirm, "a second, explicit step"
    confirm.click()
    wait(browser, lambda _: browser.find_element(By.ID, "manage-title").text == "Booking cancelled")
    assert not browser.find_element(By.ID, "manage-actions").is_displayed()
    screenshot(browser, "desktop-manage-cancelled")
    assert call("GET", f"/bookings/{booking_id}").json()["status"] == "cancelled"
    assert SLOTS[3] in call("GET", f"/services/{service['service_id']}").json()["available_slots"]


def test_the_confirmation_says_an_email_was_sent_only_when_one_was_queued(browser):
    server = MailServer()
    restart_app("wait_for_health", SMTP_URL=server.url, MAIL_FROM="bookings@salon.example", PUBLIC_URL=BASE)
    try:
        service = new_service("Emailed")
        open_service(browser, service)
        book_in(browser, SLOTS[0], "Ann Mail", "ann.mail@example.com")
        booking_id, link = manage_link(browser)
        note = browser.find_element(By.ID, "confirmation-email")
        assert note.is_displayed() and "A confirmation has been sent to ann.mail@example.com" in note.text, note.text
        screenshot(browser, "desktop-confirmation-emailed")
        received = server.wait_for("ann.mail@example.com", 1)
        assert len(received) == 1 and link in parts(received[0])[0], "the email's manage link is the page's"
        browser.find_element(By.ID, "book-another").click()
        book_in(browser, SLOTS[1], "Bob No Mail", "")
        wait(browser, lambda _: manage_link(browser)[0] != booking_id)
        assert not browser.find_element(By.ID, "confirmation-email").is_displayed(), "no address: nothing sent, nothing said"
    finally:
        restart_app("wait_for_health")
        server.stop()


def test_a_manage_link_with_a_wrong_token_says_so_and_shows_nothing(phone):
    service = new_service("Wrong link")
    booking = call("POST", "/book", json={"service_id": service["service_id"], "slot": SLOTS[1], "user_name": "Private Person",
                                          "email": "private@example.com"}).json()
    phone.get(f"{BASE}/#manage/{booking['booking_id']}/NotTheRightTokenAtAll0123456789")
    error = wait(phone, ready.visibility_of_element_located((By.ID, "manage-error")))
    assert "does not fit" in error.text
    assert "Private Person" not in phone.find_element(By.ID, "manage").text
    screenshot(phone, "phone-manage-wrong-link")


def test_a_move_to_a_time_taken_meanwhile_keeps_the_booking(browser):
    service = new_service("Move race")
    booking = call("POST", "/book", json={"service_id": service["service_id"], "slot": SLOTS[0], "user_name": "Mover"}).json()
    browser.get(f"{BASE}/#manage/{booking['booking_id']}/{booking['manage_token']}")
    wait(browser, ready.visibility_of_element_located((By.ID, "move-button"))).click()
    target = wait(browser, ready.visibility_of_element_located((By.CSS_SELECTOR, f'#move-slots button[data-slot="{SLOTS[2]}"]')))
    assert call("POST", "/book", json={"service_id": service["service_id"], "slot": SLOTS[2], "user_name": "Faster"}).status_code == 201
    target.click()
    error = wait(browser, ready.visibility_of_element_located((By.ID, "manage-error")))
    assert "unchanged" in error.text
    wait(browser, lambda driver: not driver.find_elements(By.CSS_SELECTOR, f'#move-slots button[data-slot="{SLOTS[2]}"]'))
    assert call("GET", f"/bookings/{booking['booking_id']}").json()["slot"] == SLOTS[0]


def test_a_slot_taken_meanwhile_gets_a_clear_message_and_keeps_what_was_typed(browser, phone):
    service = new_service("Room")
    open_service(phone, service)
    open_service(browser, service)
    book_in(browser, SLOTS[0], "First customer")
    wait(browser, ready.visibility_of_element_located((By.ID, "confirmation")))

    book_in(phone, SLOTS[0], "Second customer")  # the phone still shows the slot as free
    error = wait(phone, ready.visibility_of_element_located((By.ID, "form-error")))
    assert "just booked" in error.text
    assert phone.find_element(By.ID, "user-name").get_attribute("value") == "Second customer"
    wait(phone, lambda driver: not driver.find_elements(By.CSS_SELECTOR, f'#times button[data-slot="{SLOTS[0]}"]'))
    screenshot(phone, "phone-slot-taken")
    book_in(phone, SLOTS[3], "Second customer")
    wait(phone, ready.visibility_of_element_located((By.ID, "confirmation")))
    screenshot(phone, "phone-confirmation")


def test_the_whole_booking_works_with_the_keyboard_alone(browser):
    # Listed first (services come in id order), so that the Tabs needed do not grow with the
    # services other tests made.
    service = new_service("Keyboard", service_id=f"0-keyboard-{uuid.uuid4().hex[:8]}")
    browser.get(BASE + "/")

    def tab_to(target):
        for _ in range(300):
            if browser.switch_to.active_element == target:
                return
            ActionChains(browser).send_keys(Keys.TAB).perform()
        raise AssertionError(f"{target.text} is not reachable with Tab")

    opener = section(browser, service).find_element(By.CSS_SELECTOR, "button.open-service")
    tab_to(opener)
    opener.send_keys(Keys.ENTER)
    day = wait(browser, ready.visibility_of_element_located((By.CSS_SELECTOR, f'#days button[data-day="{local_day(SLOTS[3])}"]')))
    assert browser.switch_to.active_element.get_attribute("aria-pressed") == "true", "the first day, chosen, has the focus"
    tab_to(day)
    day.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("data-slot") == SLOTS[3], "its first time has the focus"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "user-name"
    browser.switch_to.active_element.send_keys("   ", Keys.ENTER)
    assert wait(browser, ready.visibility_of_element_located((By.ID, "form-error"))).text == "Please enter your name."
    browser.switch_to.active_element.send_keys("Kim", Keys.ENTER)
    wait(browser, ready.visibility_of_element_located((By.ID, "confirmation")))
    assert call("GET", f"/services/{service['service_id']}").json()["available_slots"] == SLOTS[:3]


def test_the_page_says_so_when_the_service_is_down_and_nothing_is_lost(phone):
    service = new_service("Outage")
    phone.get(BASE + "/")
    section(phone, service)
    screenshot(phone, "phone-services")
    open_service(phone, service)
    slot_button(phone, SLOTS[3]).click()
    phone.find_element(By.ID, "user-name").send_keys("Patient customer")
    deploy("stop_app")
    try:
        phone.find_element(By.ID, "book-button").click()
        error = wait(phone, ready.visibility_of_element_located((By.ID, "form-error")))
        assert "unavailable" in error.text
        assert phone.find_element(By.ID, "user-name").get_attribute("value") == "Patient customer"
        screenshot(phone, "phone-unavailable")
    finally:
        restart_app()
    wait(phone, lambda _: call("GET", "/healthz").status_code == 200)
    phone.find_element(By.ID, "book-button").click()  # the same choice and name, once more
    wait(phone, ready.visibility_of_element_located((By.ID, "confirmation")))


def test_assets_are_versioned_by_content_and_cached_for_good_while_the_page_is_not():
    import hashlib
    import re

    from stack import ROOT

    page = call("GET", "/")
    assert page.headers["Cache-Control"] == "no-cache"
    assert "Content-Encoding" in call("GET", "/", headers={"Accept-Encoding": "gzip"}).headers or len(page.content) < 1024
    for path, version in re.findall(r'(?:href|src)="(/assets/[^"?]+)\?v=([0-9a-f]+)"', page.text):
        content = open(os.path.join(ROOT, "nginx", "www", path.lstrip("/")), "rb").read()
        assert version == hashlib.sha256(content).hexdigest()[:10], f"{path}: update ?v= in index.html"
        asset = call("GET", f"{path}?v={version}", headers={"Accept-Encoding": "gzip"})
        assert asset.headers["Cache-Control"] == "max-age=315360000"
        if len(content) >= 1024:  # nginx's gzip_min_length
            assert asset.headers.get("Content-Encoding") == "gzip"
        assert "default-src 'self'" in asset.headers["Content-Security-Policy"]
    assert "https://" not in page.text and "http://" not in page.text, "no external resources"


def test_the_page_loads_nothing_from_other_origins(browser):
    browser.get(BASE + "/")
    wait(browser, lambda driver: driver.find_element(By.ID, "status").text != "Loading the services…")
    origins = browser.execute_script("return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)")
    assert set(origins) <= {BASE}
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors  # a Content-Security-Policy violation or a failed load would show here
