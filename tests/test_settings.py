"""Settings come from the environment: each case loads portal/settings.py in a fresh interpreter with a
controlled environment (nothing inherited from the test run, so a CI's DATABASE_URL cannot leak in)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

# Loads the settings the way manage.py does and prints the values under test as JSON.
PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SECRET_KEY": settings.SECRET_KEY,
    "ENGINE": settings.DATABASES["default"]["ENGINE"],
    "DB_NAME": str(settings.DATABASES["default"]["NAME"]),
    "CONN_MAX_AGE": settings.DATABASES["default"].get("CONN_MAX_AGE", 0),
    "CACHE_BACKEND": settings.CACHES["default"]["BACKEND"],
    "CACHE_LOCATION": settings.CACHES["default"].get("LOCATION", ""),
    "Q_BROKER": {k: settings.Q_CLUSTER[k] for k in ("orm", "django_redis", "redis") if k in settings.Q_CLUSTER},
}))
"""


def load_settings(**env: str) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "portal.settings", **env}
    return subprocess.run(  # noqa: S603 - our own interpreter running a fixed probe
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=60, check=False
    )


def settings_with(**env: str) -> dict:
    result = load_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_settings_refuse_to_start_without_secret_key_when_debug_is_off():
    result = load_settings()

    assert result.returncode == 1
    assert "ImproperlyConfigured: SECRET_KEY is required unless DEBUG is on" in result.stderr


@pytest.mark.parametrize("debug", ["0", "false", ""])
def test_settings_with_debug_off_still_need_a_secret_key(debug):
    result = load_settings(DEBUG=debug)

    assert result.returncode == 1
    assert "SECRET_KEY is required" in result.stderr


def test_settings_in_debug_start_without_secret_key():
    loaded = settings_with(DEBUG="1")

    assert loaded["DEBUG"] is True
    assert loaded["SECRET_KEY"] != ""


def test_settings_use_the_given_secret_key_in_production():
    loaded = settings_with(SECRET_KEY="a-real-secret-from-the-environment")

    assert loaded["DEBUG"] is False
    assert loaded["SECRET_KEY"] == "a-real-secret-from-the-environment"


def test_settings_default_to_a_sqlite_file_in_the_project():
    loaded = settings_with(DEBUG="1")

    assert loaded["ENGINE"] == "django.db.backends.sqlite3"
    assert loaded["DB_NAME"] == str(BASE_DIR / "db.sqlite3")


def test_settings_on_postgresql_keep_connections_open():
    loaded = settings_with(DEBUG="1", DATABASE_URL="postgres://convene:pw@db.internal:5432/convene")

    assert loaded["ENGINE"] == "django.db.backends.postgresql"
    assert loaded["DB_NAME"] == "convene"
    assert loaded["CONN_MAX_AGE"] > 0


def test_settings_without_redis_use_local_memory_cache_and_the_database_queue():
    loaded = settings_with(DEBUG="1")

    assert loaded["CACHE_BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert loaded["Q_BROKER"] == {"orm": "default"}


def test_settings_with_redis_url_switch_cache_and_queue_broker_to_redis():
    loaded = settings_with(DEBUG="1", REDIS_URL="redis://cache.internal:6379/2")

    assert loaded["CACHE_BACKEND"] == "django_redis.cache.RedisCache"
    assert loaded["CACHE_LOCATION"] == "redis://cache.internal:6379/2"
    assert loaded["Q_BROKER"] == {"django_redis": "default"}
