"""Fixtures shared by the customer page tests."""
from __future__ import annotations

import pytest

from tests.pages.ui_data import scored_world


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The role users get a password; the default PBKDF2 would dominate these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world():
    """Six scored customers with orders (tests/pages/ui_data.py)."""
    return scored_world(6)
