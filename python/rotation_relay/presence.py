"""Presence and acknowledgements, exactly as docs/protocol.md ("Presence and acknowledgements",
"Writing") specifies, so `rotation-relay status` and `wait-converged` count this process."""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, Optional

from .protocol import presence_keys
from .secret_state import ENV_FALLBACK_VERSION

if TYPE_CHECKING:
    from .cache import CredentialCache

log = logging.getLogger("rotation_relay")

SDK = "rotation-relay-python/0.1.0"
RUNTIME = f"python/{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
LAST_SEEN_RETENTION_MS = 3_600_000


def reason_code(error: BaseException) -> str:
    """The reason codes of the Node SDK; the server's reply text never leaves this function."""
    text = str(error)
    if text.startswith("NOPERM") or "NOPERM" in text[:20]:
        return "NOPERM"
    if "WRONGPASS" in text or "NOAUTH" in text or type(error).__name__ == "AuthenticationError":
        return "AUTH"
    if text.startswith("READONLY"):
        return "READONLY"
    if "Timeout" in type(error).__name__:
        return "TIMEOUT"
    if "Connection" in type(error).__name__:
        return "CONNECTION"
    return "OTHER"


class PresenceWriter:
    """One thread; writes never overlap: a write asked for while one runs is done once, after it."""

    def __init__(self, cache: "CredentialCache", heartbeat_interval_s: float, ttl_s: float) -> None:
        if ttl_s <= heartbeat_interval_s:
            raise ValueError("presence TTL must exceed the heartbeat interval")
        self._cache = cache
        self.heartbeat_s = heartbeat_interval_s
        self.ttl_s = ttl_s
        self.due = threading.Event()
        self.state = "starting"
        self.reason_code: Optional[str] = None
        self.failing_since: Optional[float] = None
        self.last_write_at: Optional[float] = None
        self.writes = 0
        self.failures = 0

    def fields(self, now_ms: int) -> Dict[str, Any]:
        cache = self._cache
        fields: Dict[str, Any] = {
            "id": cache.instance_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "startedAt": cache.started_at_ms,
            "sdk": SDK,
            "runtime": RUNTIME,
            "heartbeatAt": now_ms,
            "ttlMs": int(self.ttl_s * 1000),
            "heartbeatIntervalMs": int(self.heartbeat_s * 1000),
            "subscribed": 1 if cache.subscribed else 0,
        }
        for secret in cache.secret_states():
            with secret.lock:
                if secret.value is None:
                    continue
                version = secret.version_id if secret.source == "secrets-manager" else ENV_FALLBACK_VERSION
                fields[secret.ack_field()] = f"{version}@{secret.acked_at_ms}"
        return fields

    def run(self, stop: threading.Event) -> None:
        cache = self._cache
        instances, instance = presence_keys(cache.key_prefix, cache.instance_id)
        client = None
        next_beat = 0.0
        while True:
            self.due.wait(max(0.0, next_beat - time.monotonic()))
            self.due.clear()
            try:
                client = client or cache.redis_client()
                if stop.is_set():  # clean stop: deregister, so status does not list a crash
                    pipe = client.pipeline(transaction=False)
                    pipe.zrem(instances, cache.instance_id)
                    pipe.delete(instance)
                    pipe.execute()
                    return
                now = int(time.time() * 1000)
                heartbeat = time.monotonic() >= next_beat
                fields = self.fields(now)
                pipe = client.pipeline(transaction=False)
                pipe.zadd(instances, {cache.instance_id: now})
                for secret in cache.secret_states():
                    # An ack moves from the configured name to the full ARN once AWS answered.
                    if secret.acked_name and secret.acked_name != secret.ack_field():
                        pipe.hdel(instance, secret.acked_name)
                pipe.hset(instance, mapping=fields)
                pipe.pexpire(instance, int(self.ttl_s * 1000))
                if heartbeat:
                    pipe.zremrangebyscore(instances, "-inf", f"({now - LAST_SEEN_RETENTION_MS}")
                pipe.execute()
                for secret in cache.secret_states():
                    if secret.value is not None:
                        secret.acked_name = secret.ack_field()
                self.writes += 1
                self.last_write_at = time.time()
                if self.state == "failing":
                    log.info("PRESENCE_WRITE_RECOVERED presence writes succeed again")
                self.state, self.reason_code, self.failing_since = "ok", None, None
                if heartbeat:
                    next_beat = time.monotonic() + self.heartbeat_s
            except Exception as error:  # a failed write never affects credentials, and is loud
                self.failures += 1
                code = reason_code(error)
                if self.state != "failing" or self.reason_code != code:
                    log.error("PRESENCE_WRITE_FAILED presence write failed: %s (%s)", code, type(error).__name__)
                self.state, self.reason_code = "failing", code
                self.failing_since = self.failing_since or time.time()
                client = None
                if stop.is_set():
                    return
                next_beat = time.monotonic() + min(self.heartbeat_s, 2.0)

    def status(self) -> Dict[str, Any]:
        return {
            "instance_id": self._cache.instance_id,
            "state": self.state,
            "reason_code": self.reason_code,
            "failing_since": self.failing_since,
            "last_write_at": self.last_write_at,
            "heartbeat_interval_s": self.heartbeat_s,
            "ttl_s": self.ttl_s,
            "writes": self.writes,
            "failures": self.failures,
        }
