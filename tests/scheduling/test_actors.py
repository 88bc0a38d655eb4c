import pytest

from jobs import registry
from jobs.scheduling.actors import health_check


@pytest.mark.django_db
def test_the_health_check_returns_the_system_health_as_its_result():
    spec = registry.get_spec("jobs.health_check")
    assert spec is not None and spec.queue_name == "maintenance"
    report = health_check.fn()
    assert report["status"] in ("ok", "unavailable")
    assert set(report["checks"]) == {"database", "redis", "workers", "scheduler"}
    assert report["checks"]["database"]["ok"] and report["checks"]["redis"]["ok"]
