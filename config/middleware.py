"""Response headers every dynamic page and API answer carries."""

from django.utils.cache import add_never_cache_headers


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every dynamic response: job arguments, results, reports and
    tokens must not stay in a browser's or a proxy's cache. Static files never reach this
    middleware (WhiteNoise answers them first, with long-lived caching)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        add_never_cache_headers(response)
        return response
