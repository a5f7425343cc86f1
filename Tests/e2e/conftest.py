"""Fixtures for the end-to-end tests (helpers are in stack.py)."""

import pytest

from stack import create_service, future_slots


@pytest.fixture
def service():
    return create_service(future_slots(6))
