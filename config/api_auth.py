"""Token authentication that stops guessing: too many failed tokens from one client get 429.

DRF checks permissions before throttles, so its throttles never see a request whose token is
wrong: that request ends in a 401 at once, as often as a client likes. Here the failures are
counted per client address in the cache; past ``API_AUTH_FAILURE_RATE`` the client is refused
before its token is even looked up, until the window ends (valid tokens from that address too:
a throttle that still answers the right guess is no throttle).
"""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.throttling import SimpleRateThrottle

from config.security import client_ip


def _rate() -> tuple[int, int]:
    limit, window = SimpleRateThrottle.parse_rate(None, settings.API_AUTH_FAILURE_RATE)
    return limit, window


class ThrottledTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        limit, window = _rate()
        bucket = int(time.time() // window)
        key = f"auth-failures:{client_ip(request) or 'unknown'}:{bucket}"
        if (cache.get(key) or 0) >= limit:
            raise exceptions.Throttled(
                wait=window - time.time() % window,
                detail="Too many failed authentications from this address; try again later.",
            )
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            if not cache.add(key, 1, timeout=window + 1):
                try:
                    cache.incr(key)
                except ValueError:  # expired between add and incr
                    cache.add(key, 1, timeout=window + 1)
            raise

    def authenticate_credentials(self, key):
        # No token holds a NUL, and PostgreSQL refuses one in a query (a 500): a wrong token, counted as
        # one. (Bytes that are not UTF-8, lone surrogates included, DRF refuses before this.)
        if "\x00" in key:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
