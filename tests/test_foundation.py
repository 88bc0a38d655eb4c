import os
import subprocess
import sys

import pytest
import yaml
from django.conf import settings
from openapi_spec_validator import validate
from rest_framework.test import APIClient


@pytest.mark.django_db
def test_liveness_needs_no_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_health_reports_each_part_and_503_without_workers(client, reader_client):
    anonymous = client.get("/api/v1/health")
    assert anonymous.json() == {"status": "unavailable"} and anonymous.status_code == 503
    response = reader_client.get("/api/v1/health")
    body = response.json()
    assert set(body["checks"]) == {"database", "redis", "workers", "scheduler"}
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    # No worker process runs in this test: the platform is not ready, and says so.
    assert body["checks"]["workers"]["ok"] is False
    assert response.status_code == 503 and body["status"] == "unavailable"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/queues", "/api/v1/workers", "/api/v1/actors"])
def test_anonymous_api_calls_get_the_json_error_shape(path):
    response = APIClient().get(path)
    assert response.status_code in (401, 403)
    error = response.json()["error"]
    assert error["code"] in ("not_authenticated", "authentication_failed")
    assert error["message"]
    assert "details" in error


@pytest.mark.django_db
def test_token_authentication_works(staff_user):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=staff_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/actors").status_code == 200


@pytest.mark.django_db
def test_unknown_api_object_is_a_json_404(staff_client):
    response = staff_client.get("/api/v1/jobs/not-a-uuid")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_openapi_schema_validates(staff_client):
    response = staff_client.get("/api/schema/")
    assert response.status_code == 200
    spec = yaml.safe_load(response.content)
    assert spec["openapi"].startswith("3.")
    validate(spec)
    assert "/api/v1/jobs" in spec["paths"]
    assert "/api/v1/jobs/{job_id}/cancel" in spec["paths"]


@pytest.mark.django_db
def test_api_docs_page_renders_from_our_own_static_files(staff_browser, client):
    page = staff_browser.get("/api/docs/")
    assert page.status_code == 200
    assert b"cdn.jsdelivr" not in page.content and b"/static/drf_spectacular_sidecar/" in page.content
    assert client.get("/api/docs/").status_code == 302  # sign in first
    assert client.get("/api/schema/").status_code in (401, 403)


@pytest.mark.django_db
def test_admin_login_page_renders(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content


@pytest.mark.django_db
def test_dashboard_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_production_settings_pass_check_deploy(tmp_path):
    env = {
        **os.environ,
        "DJANGO_ENV": "production",
        "SECRET_KEY": "x" * 20 + "production-grade-secret-key-for-the-check-0123456789",
        "ALLOWED_HOSTS": "jobs.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_require_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update({"DJANGO_ENV": "production", "ALLOWED_HOSTS": "x.example.com"})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
