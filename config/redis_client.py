"""Which Redis the broker talks to: one server, or the current master found through Redis Sentinel.

- ``REDIS_URL=redis://[:password@]host:6379/0``: one server (the default).
- ``REDIS_URL=redis+sentinel://[:password@]sentinel1:26379,sentinel2:26379/<master name>/<db>``:
  Sentinel. The password is the Redis servers'; ``REDIS_SENTINEL_PASSWORD`` is the Sentinels' own.
- ``REDIS_SENTINELS=sentinel1:26379,sentinel2:26379`` (and ``REDIS_SENTINEL_MASTER``, default
  ``mymaster``): Sentinel as well; ``REDIS_URL`` then still gives the password and the db.

Dramatiq's RedisBroker accepts a ready client. A Sentinel-managed client asks the Sentinels for the
master, and after a failover its connections to the demoted server fail and the next command asks
again, so the broker, the engine (``jobs.broker``) and the scheduler's lease, which all use
``dramatiq.get_broker().client``, follow the new master without a restart. Its sockets time out:
a master that vanished from the network must fail a command, not hang it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import redis
from redis.sentinel import Sentinel

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_MASTER = "mymaster"
SOCKET_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0


class RedisConfigError(ValueError):
    """A Redis URL or Sentinel list that cannot be used."""


@dataclass(frozen=True)
class SentinelConfig:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    password: str | None = None
    sentinel_password: str | None = None
    ssl: bool = False


def _hosts(text: str) -> tuple[tuple[str, int], ...]:
    hosts = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "26379")
        try:
            hosts.append((host.strip("[]"), int(port)))
        except ValueError:
            raise RedisConfigError(f"bad Sentinel address {item!r}: expected host:port") from None
    if not hosts:
        raise RedisConfigError("no Sentinel address given")
    return tuple(hosts)


def _db(text: str) -> int:
    try:
        return int(text or 0)
    except ValueError:
        raise RedisConfigError(f"bad Redis db {text!r}: expected a number") from None


def sentinel_config(
    url: str, *, sentinels: str = "", master: str = "", sentinel_password: str | None = None
) -> SentinelConfig | None:
    """The Sentinel setup named by the settings, or None for a single server."""
    parsed = urlparse(url)
    if parsed.scheme in SENTINEL_SCHEMES:
        netloc = parsed.netloc.rpartition("@")[2]
        parts = [p for p in parsed.path.split("/") if p]
        return SentinelConfig(
            sentinels=_hosts(netloc),
            master=unquote(parts[0]) if parts else (master or DEFAULT_MASTER),
            db=_db(parts[1] if len(parts) > 1 else "0"),
            password=unquote(parsed.password) if parsed.password else None,
            sentinel_password=sentinel_password or None,
            ssl=parsed.scheme.startswith("rediss"),
        )
    if sentinels.strip():
        return SentinelConfig(
            sentinels=_hosts(sentinels),
            master=master or DEFAULT_MASTER,
            db=_db(parsed.path.strip("/")),
            password=unquote(parsed.password) if parsed.password else None,
            sentinel_password=sentinel_password or None,
            ssl=parsed.scheme == "rediss",
        )
    return None


def sentinel_master_client(config: SentinelConfig) -> redis.Redis:
    """A client of whichever server the Sentinels name master now (lazy: nothing connects yet)."""
    sentinel_kwargs = {"socket_timeout": CONNECT_TIMEOUT, "socket_connect_timeout": CONNECT_TIMEOUT}
    if config.sentinel_password:
        sentinel_kwargs["password"] = config.sentinel_password
    sentinel = Sentinel(list(config.sentinels), sentinel_kwargs=sentinel_kwargs)
    return sentinel.master_for(
        config.master,
        db=config.db,
        password=config.password,
        ssl=config.ssl,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_keepalive=True,
    )


def broker_connection_options(
    url: str, *, sentinels: str = "", master: str = "", sentinel_password: str | None = None
) -> dict:
    """The connection part of RedisBroker's options: ``{"url": ...}`` or ``{"client": ...}``."""
    config = sentinel_config(url, sentinels=sentinels, master=master, sentinel_password=sentinel_password)
    if config is None:
        return {"url": url}
    return {"client": sentinel_master_client(config)}
