"""The browser tests use the end-to-end helpers (Tests/e2e/stack.py) and Debian's chromium."""

import os
import sys

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))

DESKTOP = (1280, 900)
PHONE = (390, 844)
TIME_ZONE = "America/New_York"


def open_browser(size=DESKTOP):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=en-US",
                     f"--window-size={size[0]},{size[1]}"):
        options.add_argument(argument)
    options.accept_insecure_certs = True  # the test stack's self-signed certificate
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    if size == PHONE:  # a phone's viewport and touch, below headless chromium's smallest window
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": size[0], "height": size[1], "deviceScaleFactor": 2, "mobile": True})
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": TIME_ZONE})
    driver.execute_cdp_cmd("Emulation.setLocaleOverride", {"locale": "en-US"})
    return driver


@pytest.fixture
def browser():
    driver = open_browser()
    yield driver
    driver.quit()


@pytest.fixture
def phone():
    driver = open_browser(PHONE)
    yield driver
    driver.quit()
