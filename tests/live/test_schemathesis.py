"""Schemathesis 4 against the running app: every check, a bounded number of examples per operation.

Fails on any server error, schema violation, undocumented status code, accepted invalid data or
refused valid data (tests/live/schemathesis.toml says where a 400 is an answer the schema cannot
express). The app runs on a throwaway database: schemathesis may delete the built-in schedules and
purge dead letters there.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).parent
# 25 per operation in `make test` (about a minute for the whole API on 2 cores, within its
# 15-minute budget); raise it for a deeper run: SCHEMATHESIS_MAX_EXAMPLES=200 make test.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261129")

pytestmark = pytest.mark.live

# A COMPLETE report, so that its download and metadata are tested beyond their 404s; open alerts,
# so that the alerts' list and detail are tested with rows.
SEED_REPORT = """
from django.contrib.auth import get_user_model
from reports import services
services.seed_demo_data()
report = services.report_request(requested_by=get_user_model().objects.get(username="live-staff"))
services.store_report_generate(report_id=report.id)
from jobs.alerts.services import alerts_evaluate
alerts_evaluate()  # no worker runs: the default no-worker rule opens alerts, the first has id 1
from jobs.models import Worker
Worker.objects.create(id="st-host:1:aa/2", hostname="st-host", pid=2, queues=["default"], threads=4)
print(report.id)
"""


def test_the_api_matches_its_schema(live_app_factory, tmp_path):
    app = live_app_factory(
        "schemathesis",
        env={
            # Schemathesis sends thousands of requests from one address, many without or with wrong
            # credentials (its ignored_auth check): the throttles are tested on their own elsewhere.
            "API_THROTTLE_USER": "1000000/minute",
            "API_THROTTLE_ANON": "1000000/minute",
            "API_AUTH_FAILURE_RATE": "1000000/minute",
        },
    )
    report_id = app.run(f"{sys.executable} manage.py shell -c '{SEED_REPORT}'").strip().splitlines()[-1]
    schema = requests.get(f"{app.url}/api/schema/?format=json", headers={"Authorization": f"Token {app.token}"})
    assert schema.status_code == 200, schema.text
    (tmp_path / "schema.json").write_bytes(schema.content)
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "--no-color",
        "run",
        str(tmp_path / "schema.json"),
        "--url",
        app.url,
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        # One worker: with two threads Hypothesis sometimes fails describing a lambda ("AST constructor
        # recursion depth mismatch"), an error of the tool, not of the API.
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
    ]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_TOKEN": app.token, "SCHEMATHESIS_REPORT_ID": report_id},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    print(output[-4000:])  # shown with -s, and by pytest on failure
    assert result.returncode == 0, output[-20000:]
    selected, tested = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", output).group(1, 3)
    assert selected == tested, output[-3000:]  # every operation of the schema was exercised
    generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", output).groups())
    assert generated == passed and generated >= 10 * int(tested), output[-3000:]
