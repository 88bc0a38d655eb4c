"""config/redis_client.py: one Redis server or a master through Sentinel (the failover itself is
tested on the multi-host bed, tests/multihost/test_sentinel.py)."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from redis.sentinel import SentinelConnectionPool

from config.redis_client import RedisConfigError, SentinelConfig, broker_connection_options, sentinel_config


def test_a_plain_url_is_one_server():
    assert sentinel_config("redis://:pw@10.0.0.5:6379/2") is None
    assert broker_connection_options("redis://10.0.0.5:6379/2") == {"url": "redis://10.0.0.5:6379/2"}


def test_a_sentinel_url_names_the_sentinels_the_master_the_db_and_the_password():
    config = sentinel_config("redis+sentinel://:s%40cret@s1.example:26379,s2.example:26380/jobs-master/3")
    assert config == SentinelConfig(
        sentinels=(("s1.example", 26379), ("s2.example", 26380)), master="jobs-master", db=3, password="s@cret"
    )
    assert sentinel_config("redis+sentinel://s1,s2").sentinels == (("s1", 26379), ("s2", 26379))
    assert sentinel_config("rediss+sentinel://s1:26379/m/0").ssl is True


def test_redis_sentinels_with_a_plain_url_keeps_the_urls_password_and_db():
    config = sentinel_config("redis://:pw@ignored:6379/4", sentinels="10.0.0.1:26379, 10.0.0.2:26379", master="m1")
    assert config.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379))
    assert (config.master, config.db, config.password) == ("m1", 4, "pw")
    assert sentinel_config("redis://x/0", sentinels="10.0.0.1:26379").master == "mymaster"


@pytest.mark.parametrize(
    "url, sentinels",
    [("redis+sentinel://s1:port/m/0", ""), ("redis+sentinel://s1:26379/m/db", ""), ("redis://x/0", "s1:26379:x")],
)
def test_a_bad_sentinel_setting_is_refused_with_the_reason(url, sentinels):
    with pytest.raises(RedisConfigError):
        sentinel_config(url, sentinels=sentinels)


def test_with_sentinel_the_broker_gets_a_client_that_asks_the_sentinels():
    options = broker_connection_options("redis+sentinel://10.0.0.1:26379/mymaster/0")
    pool = options["client"].connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "mymaster"
    assert pool.connection_kwargs["socket_timeout"] > 0  # a vanished master fails a command, never hangs it


def test_the_settings_build_a_sentinel_broker_from_the_environment():
    env = {**os.environ, "REDIS_URL": "redis://:pw@unused/5", "REDIS_SENTINELS": "10.9.9.9:26379"}
    code = (
        "import django; django.setup(); import dramatiq; "
        "pool = dramatiq.get_broker().client.connection_pool; "
        "print(type(pool).__name__, pool.service_name, pool.connection_kwargs['db'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["SentinelConnectionPool", "mymaster", "5"]
