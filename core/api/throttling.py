"""Per-user (per-token) request throttling for the API."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

# Used when settings name no "user" rate: generous for an integration that syncs in batches,
# low enough to stop a runaway client loop.
DEFAULT_USER_RATE = "5000/hour"


class ApiUserRateThrottle(UserRateThrottle):
    """``UserRateThrottle`` whose rate is read from settings at request time.

    DRF's class copies ``DEFAULT_THROTTLE_RATES`` when it is imported and fails with a 500 when
    the scope has no rate; this one reads ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["user"]`` on
    each request and falls back to :data:`DEFAULT_USER_RATE`. Anonymous requests never get this
    far (every endpoint requires authentication), so the key is the user's id.
    """

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope, DEFAULT_USER_RATE)
