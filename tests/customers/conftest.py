"""Fixtures shared by the customer page tests."""
from __future__ import annotations

import pytest

from tests.pages.ui_data import scored_world


@pytest.fixture
def world():
    """Six scored customers with orders (tests/pages/ui_data.py)."""
    return scored_world(6)
