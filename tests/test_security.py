"""Sign-in lockout, failed-token throttling, security headers and production settings."""

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import JobFactory

pytestmark = pytest.mark.django_db
PAGES = ["jobs:overview", "jobs:list", "jobs:dead_letters", "jobs:schedules", "jobs:workers", "jobs:health"]


def sign_in(client, username, password, path="/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR="203.0.113.7")


def test_five_wrong_passwords_lock_that_user_from_that_address(reader_user):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "reader", "wrong").status_code == 200  # the form again, with its error
    locked = sign_in(client, "reader", "wrong")
    assert locked.status_code == 429 and b"Too many failed sign-ins" in locked.content
    # Locked means locked: the right password does not get in meanwhile, nor through the admin.
    assert sign_in(client, "reader", "pw-reader-123").status_code == 429
    assert sign_in(client, "reader", "pw-reader-123", path="/admin/login/").status_code == 429
    # Another address is not locked out by it (an attacker cannot lock a user out everywhere).
    other = Client().post("/login/", {"username": "reader", "password": "pw-reader-123"}, REMOTE_ADDR="198.51.100.1")
    assert other.status_code == 302


def test_failed_tokens_are_throttled_per_address(settings, staff_user):
    settings.API_AUTH_FAILURE_RATE = "3/minute"
    good = Token.objects.create(user=staff_user).key
    client = APIClient(REMOTE_ADDR="203.0.113.9")
    for attempt in range(3):
        response = client.get("/api/v1/jobs", HTTP_AUTHORIZATION=f"Token wrong-{attempt}")
        assert response.status_code == 401
    throttled = client.get("/api/v1/jobs", HTTP_AUTHORIZATION="Token wrong-again")
    assert throttled.status_code == 429 and "Retry-After" in throttled
    assert throttled.json()["error"]["code"] == "throttled"
    # Refused before the token is looked up: a right guess gets no different answer meanwhile.
    assert client.get("/api/v1/jobs", HTTP_AUTHORIZATION=f"Token {good}").status_code == 429
    other = APIClient(REMOTE_ADDR="198.51.100.2")
    assert other.get("/api/v1/jobs", HTTP_AUTHORIZATION=f"Token {good}").status_code == 200


def test_forwarded_addresses_count_only_behind_declared_proxies(settings):
    from django.test import RequestFactory

    from config.security import client_ip

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    settings.NUM_PROXIES = 0
    assert client_ip(request) == "10.0.0.1"
    settings.NUM_PROXIES = 1
    assert client_ip(request) == "203.0.113.5"


@pytest.mark.parametrize("name", PAGES)
def test_pages_send_csp_and_no_store_and_hold_no_inline_script(staff_browser, name):
    JobFactory()
    response = staff_browser.get(reverse(name))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert not re.search(r"\son[a-z]+=", html), "inline event handlers are blocked by the CSP"
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), "inline scripts are blocked by the CSP"


def test_a_job_page_asks_before_cancel_and_retry(staff_browser):
    waiting = JobFactory()
    page = staff_browser.get(reverse("jobs:detail", args=[waiting.pk])).content.decode()
    assert re.search(r'id="cancel-button"[^>]*data-confirm=', page)


def test_api_answers_are_not_stored_by_caches(reader_client):
    response = reader_client.get("/api/v1/jobs")
    assert "no-store" in response["Cache-Control"] and "Content-Security-Policy" in response


def test_the_favicon_exists(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("favicon.svg")


def _check(env_changes: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ENV", "SECRET_KEY", "ALLOWED_HOSTS")}
    env.update(env_changes)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_misspelled_environment_is_refused():
    result = _check({"DJANGO_ENV": "prod"})
    assert result.returncode != 0 and "DJANGO_ENV must be one of development, production" in result.stderr


def test_hsts_subdomains_and_preload_are_opt_in(tmp_path):
    base = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": "hsts-opt-in-test-" + "0123456789abcdefghij" * 3,
        "ALLOWED_HOSTS": "jobs.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
    }
    printed = "from django.conf import settings as s; print(s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD)"
    env = {**os.environ, **base}
    default = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", printed],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert default.stdout.strip().splitlines()[-1] == "False False"
    opted = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", printed],
        cwd=settings.BASE_DIR,
        env={**env, "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true", "SECURE_HSTS_PRELOAD": "true"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert opted.stdout.strip().splitlines()[-1] == "True True"
    assert _check(base).returncode == 0  # check --deploy stays clean either way
