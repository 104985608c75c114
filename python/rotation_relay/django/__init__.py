"""Django integration: one process-wide CredentialCache built from settings.ROTATION_RELAY.

    ROTATION_RELAY = {
        "SECRETS": {"db": "prod/app/db", "cache": "prod/app/valkey", "mail": "prod/app/ses-smtp"},
        # each value: a name/ARN, or {"secret_id": ..., "env_fallback": {...}}
        "REDIS_URL": ...,            # default ROTATION_RELAY_REDIS_URL
        "SIGNING_KEYS": ...,         # default ROTATION_RELAY_SIGNING_KEYS (comma-separated)
        "KEY_PREFIX": ...,           # default ROTATION_RELAY_KEY_PREFIX or "rotation-relay"
        "MAX_AGE_SECONDS": 300, "POLL_INTERVAL_SECONDS": 1800, "CLUSTER": False,
        "HEARTBEAT_INTERVAL_SECONDS": 10, "PRESENCE_TTL_SECONDS": 30, "PRESENCE": True,
        "ALLOW_UNSIGNED": False,
    }

The cache starts on first use in each process (also after a fork: gunicorn's pre-fork workers
each start their own listener). On an emergency revoke (`rotation-relay publish SECRET
--terminate-old`) the backends close their connections logged in with an older version at once.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, List, Optional

from ..protocol import DEFAULT_KEY_PREFIX, DEFAULT_MAX_AGE_S, parse_signing_keys

_cache: Optional[Any] = None
_lock = threading.Lock()
_revokers: List[Callable[[str, str], None]] = []


def register_revoker(revoker: Callable[[str, str], None]) -> None:
    """`revoker(secret_name, held_version)` runs on an emergency revoke (a signed `terminateOld`
    invalidation, docs/protocol.md): each backend closes what it holds logged in with another version."""
    _revokers.append(revoker)


def _revoke(name: str, version: str) -> None:
    for revoker in list(_revokers):
        try:
            revoker(name, version)
        except Exception:  # one backend's failure must not keep the others' old connections open
            logging.getLogger("rotation_relay").exception("revoking %s connections failed", name)


def get_cache() -> Any:
    """The process-wide CredentialCache, started."""
    global _cache
    with _lock:
        if _cache is None:
            from django.conf import settings

            from ..cache import CredentialCache

            conf = getattr(settings, "ROTATION_RELAY", {})
            env = os.environ

            def opt(key: str, variable: str, default: Any) -> Any:
                return conf[key] if conf.get(key) is not None else env.get(variable, default)

            _cache = CredentialCache(
                secrets=conf["SECRETS"],
                redis_url=opt("REDIS_URL", "ROTATION_RELAY_REDIS_URL", None),
                signing_keys=parse_signing_keys(opt("SIGNING_KEYS", "ROTATION_RELAY_SIGNING_KEYS", "")),
                key_prefix=opt("KEY_PREFIX", "ROTATION_RELAY_KEY_PREFIX", DEFAULT_KEY_PREFIX),
                max_age_s=float(opt("MAX_AGE_SECONDS", "ROTATION_RELAY_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_S)),
                poll_interval_s=float(conf.get("POLL_INTERVAL_SECONDS", 30 * 60)),
                cluster=str(opt("CLUSTER", "ROTATION_RELAY_REDIS_CLUSTER", "false")).lower() == "true",
                redis_ca_file=opt("REDIS_TLS_CA_FILE", "ROTATION_RELAY_REDIS_TLS_CA_FILE", None),
                presence=bool(conf.get("PRESENCE", True)),
                heartbeat_interval_s=float(conf.get("HEARTBEAT_INTERVAL_SECONDS", 10)),
                presence_ttl_s=float(conf.get("PRESENCE_TTL_SECONDS", 30)),
                allow_unsigned=str(opt("ALLOW_UNSIGNED", "ROTATION_RELAY_ALLOW_UNSIGNED", "false")).lower() == "true",
            )
            _cache.on_revoked(_revoke)
    return _cache.start()


def reset_cache_for_tests() -> None:
    global _cache
    with _lock:
        if _cache is not None:
            _cache.stop()
        _cache = None
