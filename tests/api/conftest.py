from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import API_SCOPES
from accounts.services import api_key_create
from portal.api.auth import api_keys_forget


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the cache: every test starts with full allowances (and no remembered keys)."""
    cache.clear()
    api_keys_forget()
    yield
    cache.clear()
    api_keys_forget()


class ApiClient(Client):
    def __init__(self, key: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.key = key

    def generic(self, method, path, data="", content_type="application/octet-stream", secure=False, *, headers=None, **extra):
        headers = dict(headers or {})
        if self.key:
            headers.setdefault("Authorization", f"Bearer {self.key}")
        return super().generic(method, path, data, content_type, secure, headers=headers, **extra)


@pytest.fixture
def api_key(org):
    """A key with every scope of ``org``: (ApiKey, secret)."""
    return api_key_create(org=org, actor=None, name="all", scopes=list(API_SCOPES))


@pytest.fixture
def api_client(api_key):
    return ApiClient(api_key[1])


@pytest.fixture
def anon_client():
    return ApiClient()
