"""Issue 20 item 19: after LOGIN_FAILURE_LIMIT wrong passwords for a username from one address,
that pair is locked out for LOGIN_LOCKOUT_MINUTES, on the staff login page and the admin's."""
from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests"  # tests/conftest.py's role_user


def _login(client: Client, username: str, password: str, url: str = "/login/", address: str = "203.0.113.7"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_the_right_password_after_the_limit_of_wrong_ones_is_refused_with_a_clear_message(role_user, settings):
    assert settings.AXES_FAILURE_LIMIT == 5 and settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    user = role_user("Sales")
    client = Client()
    for _ in range(4):
        assert _login(client, user.username, "wrong").status_code == 200  # the form again, with its error
    locked = _login(client, user.username, "wrong")  # the fifth failure locks
    assert locked.status_code == 429
    page = _login(client, user.username, PASSWORD)
    assert page.status_code == 429
    assert "_auth_user_id" not in client.session
    text = page.content.decode()
    assert "Too many failed logins" in text and "15 minutes" in text
    assert 'action="/login/"' in text  # it is the login page, not a bare error


def test_the_lock_is_per_username_and_address(role_user):
    user = role_user("Sales")
    other = role_user("Service")
    for _ in range(5):
        _login(Client(), user.username, "wrong")
    # The same account from another address, and another account from the same address, get in.
    assert _login(Client(), user.username, PASSWORD, address="198.51.100.9").status_code == 302
    assert _login(Client(), other.username, PASSWORD).status_code == 302
    # Another X-Forwarded-For does not make a new client.
    spoofed = Client().post("/login/", {"username": user.username, "password": PASSWORD},
                            REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="192.0.2.55")
    assert spoofed.status_code == 429


def test_the_admin_login_is_throttled_too(role_user):
    user = role_user("Manager")
    client = Client()
    for _ in range(5):
        _login(client, user.username, "wrong", url="/admin/login/")
    response = _login(client, user.username, PASSWORD, url="/admin/login/")
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    # ... and the lock holds on the staff login page as well: one count per username + address.
    assert _login(client, user.username, PASSWORD).status_code == 429


def test_the_lock_ends_after_the_lockout_time(role_user):
    user = role_user("Sales")
    for _ in range(5):
        _login(Client(), user.username, "wrong")
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    assert _login(Client(), user.username, PASSWORD).status_code == 302


def test_a_success_before_the_limit_starts_the_count_again(role_user):
    user = role_user("Sales")
    for _ in range(4):
        _login(Client(), user.username, "wrong")
    assert _login(Client(), user.username, PASSWORD).status_code == 302
    for _ in range(4):
        _login(Client(), user.username, "wrong")
    assert _login(Client(), user.username, PASSWORD).status_code == 302


def test_limits_come_from_the_environment():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "LOGIN_FAILURE_LIMIT": "3", "LOGIN_LOCKOUT_MINUTES": "60"}
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                             "from django.conf import settings as s; print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME)"],
                            cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["3", "1:00:00"]


def test_a_password_check_without_a_request_still_works(role_user):
    """authenticate() from a command or the shell has no address to count; it is not refused."""
    from django.contrib.auth import authenticate

    user = role_user("Sales")
    assert authenticate(username=user.username, password=PASSWORD) == user
    assert authenticate(username=user.username, password="wrong") is None
