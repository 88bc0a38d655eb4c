"""Who the client is, for sign-in lockouts and throttles: one rule for django-axes and the API."""

from django.conf import settings


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the address the NUM_PROXIES-th trusted proxy saw.

    X-Forwarded-For is read only when proxies are declared: without one, a client could name any
    address and never be locked out.
    """
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR") or None
