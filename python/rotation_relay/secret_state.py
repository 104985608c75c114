"""One secret as the cache holds it: what is fine to log and show (names, versions, times) and
the value, which never leaves through status(), logs or errors."""
from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict, deque
from typing import Any, Deque, Dict, Optional, Tuple, Union

ENV_FALLBACK_VERSION = "env-fallback"  # the version acked for a value read from the environment


class SecretSpec:
    """How one logical secret is read.

    secret_id:    name or ARN in Secrets Manager (names match event ARNs by the -XXXXXX rule).
    json:         parse SecretString as JSON (default True: RDS, ElastiCache, SES shapes).
    env_fallback: used only at cold start when Secrets Manager is unreachable: the name of one
                  environment variable holding the whole secret string, or a map field -> variable
                  ({"username": "DB_USER", "password": "DB_PASSWORD"}). Default None: start() fails.
    """

    def __init__(self, secret_id: str, json: bool = True, env_fallback: Union[None, str, Dict[str, str]] = None) -> None:
        if not secret_id:
            raise ValueError("a secret needs a secret_id (name or ARN)")
        self.secret_id = secret_id
        self.json = json
        self.env_fallback = env_fallback

    @classmethod
    def of(cls, spec: Union[str, Dict[str, Any], "SecretSpec"]) -> "SecretSpec":
        if isinstance(spec, SecretSpec):
            return spec
        if isinstance(spec, str):
            return cls(spec)
        return cls(spec["secret_id"], spec.get("json", True), spec.get("env_fallback"))

    def value_from_env(self) -> Optional[Any]:
        """The env fallback value, or None when it is not configured or a variable is missing."""
        fallback = self.env_fallback
        if fallback is None:
            return None
        if isinstance(fallback, str):
            raw = os.environ.get(fallback)
            if raw is None:
                return None
            return json.loads(raw) if self.json and raw.lstrip().startswith("{") else raw
        value = {}
        for field, variable in fallback.items():
            if variable not in os.environ:
                return None
            value[field] = os.environ[variable]
        return value


class SecretState:
    def __init__(self, name: str, spec: SecretSpec) -> None:
        self.name = name
        self.spec = spec
        self.arn: Optional[str] = None
        self.version_id: Optional[str] = None
        self.value: Any = None
        self.source = "none"  # secrets-manager | env-fallback
        self.fetched_at = 0.0  # wall clock of the last successful read
        self.acked_at_ms = 0  # when this process first held version_id
        self.acked_name: Optional[str] = None  # the ack field last written (name, then ARN)
        self.pending: Optional[Tuple[str, Any]] = None  # AWSPENDING (version, value) in a single-user window
        self.pending_checked = 0.0
        self.pending_checked_version: Optional[str] = None  # AWSCURRENT when AWSPENDING was last read
        self.last_auth_refresh = 0.0
        self.last_auth_version: Optional[str] = None  # AWSCURRENT after the last auth-failure read
        self.last_auth_result = False
        self.last_error: Optional[str] = None  # an error class name, never a message
        self.announced: Deque[str] = deque(maxlen=64)  # versions an invalidation or the hash named
        self.seen_in_hash = False  # lost-state detection (docs/protocol.md, reconcile)
        # Versions a read found missing or labelled neither AWSCURRENT nor AWSPENDING -> the wall
        # time of that read: a message naming one, published before it, costs no read (Bounds).
        self.dead_versions: "OrderedDict[str, float]" = OrderedDict()
        # Pacing of the refreshes invalidations and reconcile ask for: the next may start then.
        self.next_paced_start = 0.0
        # The single-flight slot: at most one read in flight (the worker thread) and one request
        # waiting. _NO_REQUEST: none; None: AWSCURRENT; a string: that version.
        self.waiting: Any = _NO_REQUEST
        self.waiting_trigger = ""
        self.worker_running = False
        self.reset_locks()

    def reset_locks(self) -> None:
        """New locks, e.g. in a forked child: a lock held by a parent thread at fork time would
        otherwise stay held forever in the child."""
        self.lock = threading.Lock()  # guards the fields above; held only to read or write them
        self.refresh_lock = threading.Lock()  # one Secrets Manager read at a time (single flight)
        self.waiting = _NO_REQUEST
        self.worker_running = False

    def ack_field(self) -> str:
        return f"ack:{self.arn or self.spec.secret_id}"


class _NoRequest:
    def __repr__(self) -> str:
        return "<no request>"


_NO_REQUEST = _NoRequest()
NO_REQUEST = _NO_REQUEST
