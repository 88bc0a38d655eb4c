"""Submits jobs through the engine's own service, in a scenario's environment (its database, broker
and namespace), for the harness whose Django is bound elsewhere.

    python -m tests.chaos.submitter   # then JSON lines on stdin: {"actor": ..., "calls": [[args, kwargs], ...]}

Answers each line with ``SUBMITTED <json list of job ids>`` (or ``FAILED <reason>``) on stdout.
"""

import json
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from jobs.services import job_submit_many

    print("READY", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            jobs = job_submit_many(
                actor_name=request["actor"],
                calls=[(args, kwargs) for args, kwargs in request["calls"]],
                queue=request.get("queue"),
            )
        except Exception as exc:  # reported to the harness, which fails the scenario with it
            print(f"FAILED {exc!r}", flush=True)
            continue
        print("SUBMITTED " + json.dumps([str(job.id) for job in jobs]), flush=True)


if __name__ == "__main__":
    main()
