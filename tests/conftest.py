"""Fixtures shared by the whole suite: roles and users, a real Celery worker, a real browser.

Tests marked ``services`` need PostgreSQL, Redis and a Celery worker; tests marked ``browser`` need
headless Chromium. On a laptop without them those tests are skipped with the reason; with
``CI=true`` a missing service fails the test instead, so CI cannot pass by skipping.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import ProductFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def unavailable(reason: str) -> None:
    """Skip on a laptop, fail in CI."""
    if IN_CI:
        pytest.fail(f"CI requires this service: {reason}", pytrace=False)
    pytest.skip(reason)


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port),
                                      timeout=2):
            return True
    except OSError:
        return False


def services_missing() -> str | None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "DATABASE_URL does not point at PostgreSQL"
    if not settings.CELERY_BROKER_URL:
        return "CELERY_BROKER_URL is not set"
    if not _reachable(settings.CELERY_BROKER_URL, 6379):
        return f"the Celery broker at {settings.CELERY_BROKER_URL} does not answer"
    return None


@pytest.fixture(autouse=True)
def _tasks_in_process_unless_services(request):
    """Tests without the ``services`` mark run tasks in-process, as the laptop default does."""
    from crm_site.celery import app

    if request.node.get_closest_marker("services"):
        missing = services_missing()
        if missing:
            unavailable(missing)
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts and ends in the site's default language: a page requested in Chinese
    leaves zh-hans active on the thread, and a later test that renders text outside a request
    (a task's message, a form's error) would read Chinese where it expects English."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: ids repeat between tests, cached pages must not."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """MD5 instead of PBKDF2 for the test users' passwords: the default hasher costs most of a
    second per user here, and almost every page and API test makes a few users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def role_user(db, role_groups):
    """Make a staff user in one of the role groups: ``role_user("Sales")``."""
    def make(role: str, username: str | None = None, **extra):
        return UserFactory(username=username or f"test-{role.lower()}", role=role, **extra)

    return make


def wait_until(check, *, timeout: float, failure, interval: float = 0.2):
    """Call ``check`` until it returns something truthy, and return that; after ``timeout``
    seconds fail the test with ``failure`` (a message, or a callable that makes one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(failure() if callable(failure) else failure)


def start_worker(*extra: str, log_name: str = "celery-worker-test.log") -> subprocess.Popen:
    """Start a real ``celery worker`` bound to the test database; wait until it answers a ping."""
    from django.db import connection

    from crm_site.celery import app

    db = connection.settings_dict
    database_url = (f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
                    f"{db['PORT'] or 5432}/{db['NAME']}")
    # Chunks of 100 customers: a test run of a few hundred customers fans out over several
    # ranking tasks, as a production run of 100,000 does over four. Webhook tests deliver to a
    # receiver on 127.0.0.1, which production refuses (webhooks/addresses.py).
    env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
           "SCORE_RUN_CHUNK_CUSTOMERS": "100", "WEBHOOK_ALLOW_PRIVATE_HOSTS": "true"}
    log = open(ROOT / log_name, "w")  # noqa: SIM115 - the process owns it until it exits
    hostname = f"pytest-{log_name.split('.')[0]}@%h"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crm_site", "worker", "--loglevel=INFO",
         f"--hostname={hostname}", "--without-gossip", "--without-mingle", *extra],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    expected = hostname.replace("%h", socket.gethostname())
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            pytest.fail(f"the Celery worker exited with {worker.returncode}; see {log.name}")
        if any(expected in reply for reply in app.control.ping(timeout=1)):
            return worker
    worker.terminate()
    pytest.fail("the Celery worker did not answer a ping within 60 s")


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real ``celery worker`` process bound to the test database, for ``services`` tests."""
    missing = services_missing()
    if missing:
        unavailable(missing)
    from crm_site.celery import app

    app.control.purge()
    worker = start_worker("--concurrency=2")
    yield worker
    stop_worker(worker)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium driven by Playwright (its own browser download is impossible here)."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by fixtures
    # and tests around it are still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(page):
    """Log ``user`` in through the real login form."""

    def do(user, password: str = "pw-for-tests"):
        page.goto("/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.click("button[type=submit]:has-text('Log in')")
        page.wait_for_load_state()
        return page

    return do


def scored_demo(django_db_blocker, *, n_customers: int, seed: int, as_of: str = "2026-10-01"):
    """Generator for module fixtures: ``n_customers`` demo customers scored once by
    ``recompute_scores --sync --format json`` (yields its JSON), removed again afterwards.

    The data is committed outside any test's transaction, so it is flushed at the end to leave
    the database as other tests expect it.
    """
    import json
    from io import StringIO

    import pandas as pd
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from analytics.models import ScoreRun
    from customers.demo.loader import DEMO_USERS, _flush, demo_seed

    with django_db_blocker.unblock():
        demo_seed(n_customers=n_customers, seed=seed, as_of=pd.Timestamp(as_of), flush=True)
        out = StringIO()
        call_command("recompute_scores", "--sync", "--as-of", as_of, "--format", "json", stdout=out)
        yield json.loads(out.getvalue())
        ScoreRun.objects.all().delete()
        _flush()
        get_user_model().objects.filter(username__in=DEMO_USERS).delete()


@pytest.fixture
def role_groups():
    """The role groups (customers/roles.py) again: transactional tests flush every table."""
    from django.apps import apps

    from customers.roles import sync_roles

    sync_roles(apps)


# --- the REST API: token-authenticated clients per role, a clean cache, a small catalogue ---

@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters and idempotency records live in the cache.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(role_user):
    """``api("Sales")``: an APIClient sending that role's token."""
    made = {}

    def make(role: str) -> APIClient:
        if role not in made:
            user = role_user(role)
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
            client.user = user
            made[role] = client
        return made[role]

    return make


@pytest.fixture
def catalogue(db):
    return [
        ProductFactory(sku=f"SKU-{i}", name=f"Product {i}", category="tea", price=Decimal("10.50") + i)
        for i in range(3)
    ]
