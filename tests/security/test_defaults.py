"""Issue 20 item 11: production defaults unless told otherwise, and no credential on an error page."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from django.test import RequestFactory, override_settings
from django.views.debug import technical_500_response

from core.debug import CredentialHidingFilter, hide_url_passwords

ROOT = Path(__file__).resolve().parents[2]
# What a process started by hand in production sees: none of the variables the test run sets.
_DROPPED = {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DEBUG", "SECRET_KEY",
            "SECRET_KEY_FILE", "ALLOWED_HOSTS", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "TASKS_EAGER",
            "PYTEST_VERSION", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE", "PYTEST_XDIST_WORKER"}


def _manage(*args: str, **environ: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **environ},
                          capture_output=True, text=True, timeout=120, check=False)


SHOW = ("from django.conf import settings as s; print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS); print(s.SECRET_KEY)")


def test_with_no_environment_debug_is_off_and_https_is_enforced(tmp_path):
    result = _manage("shell", "-c", SHOW, SECRET_KEY_FILE=str(tmp_path / "key"))
    assert result.returncode == 0, result.stderr
    flags = result.stdout.splitlines()[-2].split()
    assert flags == ["False", "True", "True", "True", "31536000"]


def test_check_deploy_is_clean_with_the_production_defaults(tmp_path):
    # Only what production must say anyway: where the database is. DEBUG, the key, HTTPS: defaults.
    result = _manage("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY_FILE=str(tmp_path / "key"),
                     DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_secret_key_is_generated_once_per_installation_into_an_owner_only_file(tmp_path):
    key_file = tmp_path / "run" / "secret_key"
    first = _manage("shell", "-c", SHOW, SECRET_KEY_FILE=str(key_file))
    again = _manage("shell", "-c", SHOW, SECRET_KEY_FILE=str(key_file))
    other = _manage("shell", "-c", SHOW, SECRET_KEY_FILE=str(tmp_path / "other" / "secret_key"))
    assert first.returncode == again.returncode == other.returncode == 0, first.stderr + other.stderr
    key = first.stdout.splitlines()[-1]
    assert len(key) >= 50 and not key.startswith("django-insecure")
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert again.stdout.splitlines()[-1] == key  # the next start reads the same key
    assert other.stdout.splitlines()[-1] != key  # another installation gets its own


def test_a_key_from_the_environment_wins_and_no_file_is_written(tmp_path):
    result = _manage("shell", "-c", SHOW, SECRET_KEY="k" * 20 + "from-the-environment" + "z" * 20,
                     SECRET_KEY_FILE=str(tmp_path / "key"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith("from-the-environment" + "z" * 20)
    assert not (tmp_path / "key").exists()


# Built, not written out: the debug page shows the test's own source lines in its traceback.
PASSWORD = "hun" + "ter2"


def test_the_debug_page_shows_no_credential(settings):
    """With DEBUG on, the page lists settings and, under runserver, the environment in META."""
    settings.CELERY_BROKER_URL = f"redis://:{PASSWORD}-broker@redis.internal:6379/0"
    settings.CELERY_RESULT_BACKEND = f"redis://:{PASSWORD}-results@redis.internal:6379/1"
    settings.ERP_ENDPOINT = f"https://crm:{PASSWORD}-erp@erp.internal/api"
    request = RequestFactory().get("/customers/", CELERY_BROKER_URL=f"amqp://guest:{PASSWORD}-env@mq/",
                                   DATABASE_URL=f"postgres://crm:{PASSWORD}-db@db/crm",
                                   HOME_LINK=f"https://user:{PASSWORD}-meta@example.com/")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        with override_settings(DEBUG=True):
            response = technical_500_response(request, *sys.exc_info())
    page = response.content.decode()
    assert "RuntimeError" in page and "ERP_ENDPOINT" in page  # it is the debug page, with settings
    assert PASSWORD not in page


def test_url_passwords_are_blanked_wherever_they_appear():
    assert PASSWORD not in hide_url_passwords(f"amqp://guest:{PASSWORD}@mq:5672// and more")
    assert hide_url_passwords("https://example.com/a:b@c") == "https://example.com/a:b@c"
    assert CredentialHidingFilter().cleanse_setting("HOME_PAGE", "redis://:pw@h/0") == "redis://:********************@h/0"
