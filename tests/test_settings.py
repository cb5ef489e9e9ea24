"""Settings come from the environment, fall back to laptop defaults, and fail loudly when bad."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from crm_site.env import env, to_bool, to_database, to_int, to_list

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7#kq2-production-secret-that-is-long-and-random-9f8e7d6c5b4a3c2d1e0f",
    "ALLOWED_HOSTS": "crm.example.com",
    "DATABASE_URL": "postgres://crm@db.example.com:5432/crm",
}


def test_unset_variables_take_the_default(monkeypatch):
    monkeypatch.delenv("CRM_TEST_FLAG", raising=False)
    assert env("CRM_TEST_FLAG", True, to_bool) is True


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("0", False), ("YES", True), ("off", False)])
def test_booleans_parse(monkeypatch, raw, expected):
    monkeypatch.setenv("CRM_TEST_FLAG", raw)
    assert env("CRM_TEST_FLAG", None, to_bool) is expected


@pytest.mark.parametrize(("cast", "raw"), [(to_bool, "flase"), (to_int, "ten"), (to_database, "mysq://x"),
                                           (to_database, "postgres://host:5432/")])
def test_bad_values_fail_loudly_naming_the_variable(monkeypatch, cast, raw):
    monkeypatch.setenv("CRM_TEST_VALUE", raw)
    with pytest.raises(ImproperlyConfigured, match="CRM_TEST_VALUE"):
        env("CRM_TEST_VALUE", None, cast)


def test_lists_and_database_urls_parse():
    assert to_list(" a.example.com, b.example.com ,") == ["a.example.com", "b.example.com"]
    config = to_database("postgres://crm@127.0.0.1:5433/crm_db")
    assert (config["ENGINE"], config["NAME"], config["PORT"]) == ("django.db.backends.postgresql", "crm_db", 5433)


def _manage(*args, **environ):
    clean = {k: v for k, v in os.environ.items()
             if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "REDIS_URL",
                           "DJANGO_ALLOW_ASYNC_UNSAFE", "TASKS_EAGER", "PYTEST_VERSION"}}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **environ},
                          capture_output=True, text=True, timeout=120)


def test_embedded_defaults_use_sqlite_and_the_filesystem_broker_never_eager():
    result = _manage("shell", "-c", "from django.conf import settings as s; "
                     "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER, "
                     "s.DEBUG, s.DATABASES['default']['OPTIONS']['transaction_mode'])")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-5:] == ["django.db.backends.sqlite3", "filesystem://", "False", "False",
                                          "IMMEDIATE"]


def test_tasks_run_in_process_only_when_asked():
    result = _manage("shell", "-c", "from django.conf import settings as s; print(s.CELERY_TASK_ALWAYS_EAGER)",
                     TASKS_EAGER="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "True"


def test_documented_production_settings_pass_check_deploy():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr + result.stdout


def test_a_bad_value_stops_the_process():
    result = _manage("check", DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe' is invalid" in result.stderr


def test_production_static_files_collect_with_the_manifest_storage(tmp_path):
    """The image's build step (Dockerfile: collectstatic with DEBUG off) hashes every static file
    and refuses one that references a missing file (a vendored script naming its source map)."""
    result = _manage("shell", "-c", "from django.conf import settings as s; "
                     f"s.STATIC_ROOT = {str(tmp_path)!r}; "
                     "from django.core.management import call_command; "
                     "call_command('collectstatic', interactive=False, verbosity=0); "
                     "print(s.STORAGES['staticfiles']['BACKEND'])", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split()[-1] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())
    assert "vendor/chartjs/chart.umd.min.js" in manifest["paths"]
