"""What the scenarios do on a host with the platform's own code: ``python -m tests.multihost.agent CMD JSON``.

It runs inside a host's namespace with that host's settings (database and Redis by address), does
one thing through the engine's public services or the HTTP API, and prints one line of JSON.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def submit(payload: dict) -> dict:
    """``count`` jobs of ``actor`` through job_submit_many, in chunks (one INSERT and one publish each)."""
    from jobs.services import job_submit_many

    count, kwargs = int(payload["count"]), payload.get("kwargs") or {}
    chunk = int(payload.get("chunk", 500))
    ids = []
    for start in range(0, count, chunk):
        calls = [([], {**kwargs, "n": n}) for n in range(start, min(start + chunk, count))]
        ids += [str(job.id) for job in job_submit_many(actor_name=payload.get("actor", "mh.effect"), calls=calls)]
    return {"ids": ids}


def schedule(payload: dict) -> dict:
    from jobs.scheduling.services import schedule_create

    created = schedule_create(
        name=payload["name"],
        actor_name=payload.get("actor", "mh.effect"),
        kwargs=payload.get("kwargs") or {},
        interval_seconds=int(payload["interval_seconds"]),
        overlap="allow",
        coalesce=False,
        misfire_grace_seconds=int(payload.get("misfire_grace_seconds", 120)),
    )
    return {"id": created.pk}


def pause_schedule(payload: dict) -> dict:
    from jobs.scheduling.services import schedule_pause

    schedule_pause(schedule_id=payload["id"])
    return {"paused": payload["id"]}


def api_token(payload: dict) -> dict:
    """A staff user and its API token (created once per database)."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username="multihost", defaults={"is_staff": True})
    token, _ = Token.objects.get_or_create(user=user)
    return {"token": token.key}


def _post_job(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/api/v1/jobs",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"{}")
        except ValueError:  # not the API's JSON error shape (a crash page): keep its start
            return exc.code, {"error": {"code": "not_json", "message": body[:300].decode(errors="replace")}}


def post_jobs(payload: dict) -> dict:
    """Send every idempotency key to every web host at once (no balancer in front); returns each answer."""
    urls, token, keys = payload["urls"], payload["token"], payload["keys"]
    body = {"actor": payload.get("actor", "mh.effect"), "kwargs": payload.get("kwargs") or {}}
    requests = [(key, url) for key in keys for url in urls]
    with ThreadPoolExecutor(max_workers=int(payload.get("concurrency", 16))) as pool:
        answers = list(pool.map(lambda kv: _post_job(kv[1], token, {**body, "idempotency_key": kv[0]}), requests))
    return {
        "responses": [
            {"key": key, "url": url, "status": status, "job": data.get("id"), "error": data.get("error")}
            for (key, url), (status, data) in zip(requests, answers, strict=True)
        ]
    }


def retry_failed(payload: dict) -> dict:
    """The operators' bulk retry (iterates a queryset: a server-side cursor unless disabled)."""
    from jobs.models import Job
    from jobs.services import jobs_retry_bulk

    return {"retried": jobs_retry_bulk(Job.objects.filter(actor_name=payload["actor"]))}


COMMANDS = {
    "submit": submit,
    "schedule": schedule,
    "pause_schedule": pause_schedule,
    "api_token": api_token,
    "post_jobs": post_jobs,
    "retry_failed": retry_failed,
}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    command, payload = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
    print(json.dumps(COMMANDS[command](payload)))


if __name__ == "__main__":
    main()
