"""Production mode on a first deploy: the Procfile's release step, then gunicorn, pages and API.

The app runs with DJANGO_ENV=production behind a (pretend) TLS-terminating proxy: requests carry
``X-Forwarded-Proto: https``, as the proxy would add. Cookies are Secure there, so this client
keeps them itself rather than a cookie jar that would not send them over plain HTTP.
"""

import re

import pytest
import requests

pytestmark = pytest.mark.live

PAGES = [
    "/",
    "/jobs/",
    "/dead-letters/",
    "/schedules/",
    "/workers/",
    "/health/",
    "/reports/",
    "/monitoring/",
    "/documents/",
    "/api/docs/",
]
API = ["/api/v1/jobs", "/api/v1/schedules", "/api/v1/reports", "/api/v1/actors", "/api/schema/"]
API += ["/api/v1/monitoring/status", "/api/v1/monitoring/violations", "/api/v1/documents", "/api/v1/documents/batches"]
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class Browser:
    """Just enough of a browser: cookies by hand, the proxy's header on every request."""

    def __init__(self, base: str):
        self.base = base
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-Forwarded-Proto": "https", **kwargs.pop("headers", {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = requests.request(
            method, self.base + path, headers=headers, allow_redirects=False, timeout=30, **kwargs
        )
        for cookie in response.raw.headers.getlist("Set-Cookie"):
            name, _, rest = cookie.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response


def assert_hardened(response: requests.Response, *, cacheable: bool = False) -> None:
    for header, value in SECURITY_HEADERS.items():
        assert response.headers.get(header) == value, (header, response.headers)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    # Opt-in only: binding every subdomain to HTTPS is the domain owner's decision.
    assert "includeSubDomains" not in response.headers["Strict-Transport-Security"]
    if not cacheable:
        assert "no-store" in response.headers["Cache-Control"]
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp


def test_a_first_deploy_serves_pages_and_api_with_security_headers(live_app_factory):
    app = live_app_factory("production", production=True)
    browser = Browser(app.url)

    login = browser.request("GET", "/login/")
    assert login.status_code == 200, login.text[:2000]
    assert_hardened(login)
    # collectstatic ran in the release step: hashed names from the manifest, served by WhiteNoise.
    script = re.search(r'src="(/static/jobs/live\.[0-9a-f]{12}\.js)"', login.text)
    assert script, login.text[-1000:]
    asset = browser.request("GET", script.group(1))
    assert asset.status_code == 200 and "max-age=315360000" in asset.headers["Cache-Control"]

    signed_in = browser.request(
        "POST",
        "/login/",
        data={
            "username": "live-staff",
            "password": "live-staff-pw-123",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        headers={"Referer": f"https://127.0.0.1:{app.port}/login/"},
    )
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/", signed_in.text[:2000]
    assert "sessionid" in browser.cookies
    for path in PAGES:
        page = browser.request("GET", path)
        assert page.status_code == 200, (path, page.status_code, page.text[:1000])
        assert_hardened(page)

    favicon = browser.request("GET", "/favicon.ico")
    assert favicon.status_code == 302
    assert browser.request("GET", favicon.headers["Location"]).status_code == 200

    token = {"Authorization": f"Token {app.token}"}
    for path in API:
        answer = browser.request("GET", path, headers=token)
        assert answer.status_code == 200, (path, answer.text[:500])
        assert_hardened(answer)
    assert browser.request("GET", "/healthz").status_code == 200

    # Plain HTTP (no proxy header) is redirected to HTTPS unless SECURE_SSL_REDIRECT is off, as here.
    plain = requests.get(f"{app.url}/api/v1/jobs", headers=token, timeout=30)
    assert plain.status_code == 200
