"""CACHES backend "rotation_relay.django.cache.RedisCache": django-redis whose connections log in
with the credential cache's secret (OPTIONS["ROTATION_SECRET"], default "cache"): `{password}`,
`{authToken}` or `{username, password}` (ElastiCache/Valkey/MemoryDB shapes).

- every new connection authenticates with the credentials held now;
- on a new version the pool is rebuilt: idle connections are dropped at the next checkout and
  in-use ones when they are released, so new work logs in with the new credentials;
- WRONGPASS/NOAUTH at login refreshes AWSCURRENT and retries once, then AWSPENDING, then raises;
- a connection the server closed (CLIENT KILL after a password change) is retried once on a
  new connection, so the command in flight does not fail;
- on an emergency revoke (a signed `terminateOld`) every connection logged in with another
  version is closed at once, idle or in use (a command in flight is retried once, on a new
  connection with the current credentials).
"""
from __future__ import annotations

import threading
import weakref
from typing import Any, Dict, Optional, Tuple

import redis
from django_redis.cache import RedisCache as DjangoRedisCache
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ConnectionError as RedisConnectionError, ResponseError
from redis.retry import Retry

from . import get_cache, register_revoker
from ..recovery import recover_auth_failure

_pools: "weakref.WeakSet[RotatingConnectionPool]" = weakref.WeakSet()


def _revoke(name: str, version: str) -> None:
    for pool in list(_pools):
        if pool._secret == name:
            pool.close_other_versions(version)


register_revoker(_revoke)


def is_auth_error(error: BaseException) -> bool:
    if isinstance(error, AuthenticationError):
        return True
    text = str(error)
    return isinstance(error, ResponseError) and (text.startswith("WRONGPASS") or text.startswith("NOAUTH"))


def redis_login(value: Any) -> Tuple[Optional[str], str]:
    if isinstance(value, str):
        return None, value
    password = value.get("password") or value.get("authToken")
    if not password:
        raise ValueError("cache secret: expected {password}, {authToken} or {username, password}")
    return value.get("username") or None, str(password)


class RotatingConnection(redis.Connection):
    """A redis-py connection that takes its login from the cache at every connect."""

    def __init__(self, *args: Any, rotation_secret: str = "cache", **kwargs: Any) -> None:
        kwargs.setdefault("retry", Retry(NoBackoff(), 1))
        kwargs.setdefault("retry_on_error", [RedisConnectionError])
        super().__init__(*args, **kwargs)
        self.rotation_secret = rotation_secret
        self.credential_version: Optional[str] = None

    def _apply_credentials(self) -> None:
        version, value = get_cache().credentials(self.rotation_secret)
        self.username, self.password = redis_login(value)
        self.credential_version = version

    def connect(self) -> None:
        if self._sock:
            return
        self._apply_credentials()
        try:
            super().connect()
        except Exception as error:
            if not is_auth_error(error):
                raise

            def retry() -> None:
                self.disconnect()
                self._apply_credentials()
                super(RotatingConnection, self).connect()

            recover_auth_failure(get_cache(), self.rotation_secret, error, retry, is_auth_error, failed_version=self.credential_version)


class RotatingConnectionPool(redis.ConnectionPool):
    """Rebuilt on a new version: connections logged in with another version are dropped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("connection_class", RotatingConnection)
        super().__init__(*args, **kwargs)
        self._secret = self.connection_kwargs.get("rotation_secret", "cache")
        self._version: Optional[str] = None
        self._rebuild_lock = threading.Lock()
        self.rebuilds = 0
        _pools.add(self)

    def close_other_versions(self, version: str) -> int:
        """Disconnects every connection, idle or in use, logged in with a version other than
        `version`; returns how many. redis-py's disconnect() of a socket is safe from another thread."""
        with self._lock:
            connections = list(self._available_connections) + list(self._in_use_connections)
        closed = 0
        for connection in connections:
            if getattr(connection, "credential_version", None) not in (None, version):
                connection.disconnect()
                closed += 1
        return closed

    def get_connection(self, command_name: str, *keys: Any, **options: Any) -> Any:
        version = get_cache().version(self._secret)
        if version != self._version:
            with self._rebuild_lock:
                if version != self._version:
                    if self._version is not None:
                        self.disconnect(inuse_connections=False)  # idle ones; in-use at release
                        self.rebuilds += 1
                    self._version = version
        return super().get_connection(command_name, *keys, **options)

    def release(self, connection: Any) -> None:
        if getattr(connection, "credential_version", None) not in (None, self._version):
            connection.disconnect()
        super().release(connection)


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: Dict[str, Any]) -> None:
        options = params.setdefault("OPTIONS", {})
        secret = options.pop("ROTATION_SECRET", "cache")
        options.setdefault("CONNECTION_POOL_CLASS", "rotation_relay.django.cache.RotatingConnectionPool")
        pool_kwargs = options.setdefault("CONNECTION_POOL_KWARGS", {})
        pool_kwargs.setdefault("connection_class", RotatingConnection)
        pool_kwargs["rotation_secret"] = secret
        super().__init__(server, params)
