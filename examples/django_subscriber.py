#!/usr/bin/env python3
"""rotation-relay subscriber for a Django app, with redis-py and boto3.

Implements the subscriber side of docs/protocol.md (v1): verify each signed invalidation
(canonical string, HMAC-SHA256, key list, max age), subscribe then reconcile, refresh a secret
on invalidation (GetSecretValue by VersionId, adopted only if it is AWSCURRENT), fall back to a
poll, recover from authentication failures (refresh, then AWSPENDING) where Django opens
database connections, and report presence and the versions held (so `rotation-relay status` and
`wait-converged` count this process). docs/python-subscriber.md explains every part and how to
wire it in.

    python3 django_subscriber.py --self-test   # the docs' test vectors; standard library only
    python3 django_subscriber.py --run         # a standalone Django process querying PostgreSQL
                                               # through the rotating backend (needs Django,
                                               # redis-py, boto3 and psycopg; see --help)

The verification functions import nothing beyond the standard library, so the self-test runs on
a bare python3; redis, boto3 and django are imported inside the functions that use them.
Python 3.8 or later.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import random
import re
import socket
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple

log = logging.getLogger("rotation_relay")

# --------------------------------------------------------------------------------------------
# Protocol v1: message checks and signatures (docs/protocol.md). Standard library only.
# --------------------------------------------------------------------------------------------

PROTOCOL_VERSION = 1
MAX_MESSAGE_LENGTH = 64 * 1024
DEFAULT_MAX_AGE_S = 300  # ROTATION_RELAY_MAX_AGE_SECONDS
MAX_CLOCK_SKEW_S = 30
MIN_KEY_BYTES = 32
DEFAULT_KEY_PREFIX = "rotation-relay"  # ROTATION_RELAY_KEY_PREFIX

# The nine lines of the canonical string, in order; `v` is written as "1".
CANONICAL_FIELDS = ("id", "secretArn", "secretName", "versionId", "reason", "eventId", "eventTime", "publishedAt")

_UUID = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
    r"|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$"
)
_SECRET_ARN = re.compile(r"^arn:[^:\s]+:secretsmanager:[^:\s]*:[^:\s]*:secret:\S+$")
_FULL_ARN = re.compile(r"^(?P<prefix>arn:[^:\s]+:secretsmanager:[^:\s]*:[^:\s]*:secret:)(?P<name>.+)-[A-Za-z0-9]{6}$")
_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:?\d{2})$"
)
_SIG = re.compile(r"^v1=[A-Za-z0-9_-]{43}$")


class InvalidMessage(ValueError):
    """A message that fails verification. `code` is one of: malformed, unsigned, bad-signature,
    too-old, from-the-future (the codes of docs/protocol.md, "Verification rules")."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def parse_iso_datetime(text: str) -> datetime:
    """ISO-8601 date-time with `Z` or an offset, any number of fraction digits (Python 3.8's
    fromisoformat accepts neither `Z` nor every fraction length)."""
    m = _ISO_DATETIME.match(text)
    if not m:
        raise ValueError("not an ISO-8601 date-time with Z or an offset")
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if zone == "Z":
        tz = timezone.utc
    else:
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        tz = timezone(offset if zone[0] == "+" else -offset)
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tzinfo=tz)


def parse_message(raw: str) -> Dict[str, Any]:
    """Parses one message; raises InvalidMessage("malformed") for anything that is not a v1
    message. Unknown fields are kept but never trusted (they are not signed)."""
    if not isinstance(raw, str):
        raise InvalidMessage("malformed", "message is not text")
    if len(raw) > MAX_MESSAGE_LENGTH:
        raise InvalidMessage("malformed", f"message is longer than {MAX_MESSAGE_LENGTH} characters")
    try:
        msg = json.loads(raw)
    except ValueError:
        raise InvalidMessage("malformed", "message is not JSON") from None
    if not isinstance(msg, dict):
        raise InvalidMessage("malformed", "message is not a JSON object")
    v = msg.get("v")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != PROTOCOL_VERSION:
        raise InvalidMessage("malformed", f"v must be {PROTOCOL_VERSION}")

    def text(field: str, required: bool = True, non_empty: bool = False) -> None:
        if field not in msg:
            if required:
                raise InvalidMessage("malformed", f"{field} is missing")
            return
        value = msg[field]
        if not isinstance(value, str):
            raise InvalidMessage("malformed", f"{field} must be a string")  # null included
        if "\r" in value or "\n" in value:
            raise InvalidMessage("malformed", f"{field} must not contain a line break")
        if non_empty and value == "":
            raise InvalidMessage("malformed", f"{field} must not be empty")

    text("id")
    if not _UUID.match(msg["id"]):
        raise InvalidMessage("malformed", "id must be a UUID")
    text("secretArn")
    if not _SECRET_ARN.match(msg["secretArn"]):
        raise InvalidMessage("malformed", "secretArn must be a Secrets Manager secret ARN")
    text("secretName", non_empty=True)
    text("versionId", required=False, non_empty=True)
    text("reason")
    text("eventId", non_empty=True)
    for field in ("eventTime", "publishedAt"):
        text(field)
        try:
            parse_iso_datetime(msg[field])
        except ValueError:
            raise InvalidMessage("malformed", f"{field} must be an ISO-8601 date-time") from None
    if "sig" in msg and not isinstance(msg["sig"], str):
        raise InvalidMessage("malformed", "sig must be a string")
    return msg


def canonical_string(msg: Dict[str, Any]) -> bytes:
    """The signed text: "1", then the fields of CANONICAL_FIELDS ("" for an absent versionId),
    joined by LF, UTF-8, no trailing newline. Times exactly as in the message."""
    values = [str(PROTOCOL_VERSION)] + [msg.get(f, "") if f == "versionId" else msg[f] for f in CANONICAL_FIELDS]
    return "\n".join(values).encode("utf-8")


def sign(msg: Dict[str, Any], key: bytes) -> str:
    """`v1=` + base64url(HMAC-SHA256(key, canonical)) without padding: 43 characters."""
    mac = hmac.new(key, canonical_string(msg), hashlib.sha256).digest()
    return "v1=" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def parse_signing_keys(value: Optional[str]) -> List[bytes]:
    """ROTATION_RELAY_SIGNING_KEYS: comma-separated, current key first, each trimmed and at least
    32 bytes of UTF-8, used as is (not base64-decoded)."""
    keys = []
    for entry in (value or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        key = entry.encode("utf-8")
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"every signing key must be at least {MIN_KEY_BYTES} bytes")
        keys.append(key)
    return keys


def verify(raw: str, keys: List[bytes], max_age_s: float = DEFAULT_MAX_AGE_S, now: Optional[datetime] = None, check_age: bool = True) -> Dict[str, Any]:
    """Returns the verified message or raises InvalidMessage, checking in the order of the
    protocol: malformed, then the signature (only when keys are configured), then the age.
    Entries read back from {P}:versions are old by design: pass check_age=False for those."""
    msg = parse_message(raw)
    if keys:
        sig = msg.get("sig")
        if sig is None:
            raise InvalidMessage("unsigned", "message has no sig and signing keys are configured")
        if not _SIG.match(sig):
            raise InvalidMessage("bad-signature", "sig is not v1= and 43 base64url characters")
        ok = False
        for key in keys:  # any key of the list: that is how the key itself rotates
            ok |= hmac.compare_digest(sign(msg, key).encode("ascii"), sig.encode("ascii"))  # constant time
        if not ok:
            raise InvalidMessage("bad-signature", "sig matches none of the configured keys")
    if check_age:
        published = parse_iso_datetime(msg["publishedAt"])
        age = ((now or datetime.now(timezone.utc)) - published).total_seconds()
        if age > max_age_s:
            raise InvalidMessage("too-old", f"published {age:.0f} s ago, more than {max_age_s} s")
        if -age > MAX_CLOCK_SKEW_S:
            raise InvalidMessage("from-the-future", f"published {-age:.0f} s in the future")
    return msg


def secret_matches(configured_id: str, held_arn: Optional[str], secret_arn: str) -> bool:
    """Does an invalidation for `secret_arn` concern the secret configured as `configured_id`
    (a full ARN, a partial ARN or a name)? A name matches `…:secret:NAME-XXXXXX` only."""
    if secret_arn in (held_arn, configured_id):
        return True
    full = _FULL_ARN.match(secret_arn)
    if not full:
        return False
    if configured_id.startswith("arn:"):
        return configured_id == full.group("prefix") + full.group("name")  # a partial ARN
    return configured_id == full.group("name")


def protocol_keys(prefix: str = DEFAULT_KEY_PREFIX) -> Tuple[str, str]:
    """The pub/sub channel and the versions hash, under the cluster hash tag {P}."""
    return f"{{{prefix}}}:invalidations", f"{{{prefix}}}:versions"


# The test vectors of docs/protocol.md ("Test vectors"); the Node tests assert the same values.
TEST_VECTOR_KEY = b"rotation-relay-test-vector-key-0123456789abcdef"
TEST_VECTORS = (
    (
        {
            "v": 1,
            "id": "3f2b8c1e-6a4d-4f7e-9b1a-2c5d8e0f1a2b",
            "secretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf",
            "secretName": "prod/db",
            "versionId": "a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "reason": "AWSCURRENT moved to version a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "eventId": "6f1d2c3b-4a5e-4f60-8192-a3b4c5d6e7f8",
            "eventTime": "2024-05-01T12:00:00Z",
            "publishedAt": "2024-05-01T12:00:01.250Z",
        },
        "v1=1kw0_-uuNkTjmYKdPsgZUJ1Uw5_nIoYs9UkB2V9RdCw",
    ),
    (
        {
            "v": 1,
            "id": "0b6c2f4e-1d3a-4c5b-9e7f-8a9b0c1d2e3f",
            "secretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/smtp-XyZ123",
            "secretName": "prod/smtp",
            "reason": "rotation r\u00e9ussie (manual refresh)",
            "eventId": "manual-7d9e",
            "eventTime": "2024-05-01T12:05:00+02:00",
            "publishedAt": "2024-05-01T10:05:00.000Z",
        },
        "v1=gIJOaG8F2ZytuLvToroWF3mB6ydbIBRhXP4CWp-4T-M",
    ),
)


def self_test() -> List[str]:
    """Checks this implementation against the test vectors and the verification rules. Returns
    one line per check; raises AssertionError on the first that fails."""
    done = []

    def check(what: str, condition: bool) -> None:
        if not condition:
            raise AssertionError(what)
        done.append(f"ok  {what}")

    def code_of(raw: str, keys: List[bytes], **kwargs: Any) -> str:
        try:
            verify(raw, keys, **kwargs)
            return "accepted"
        except InvalidMessage as error:
            return error.code

    keys = [TEST_VECTOR_KEY]
    for n, (fields, expected) in enumerate(TEST_VECTORS, start=1):
        check(f"vector {n}: sig = {expected}", sign(fields, TEST_VECTOR_KEY) == expected)
        published = parse_iso_datetime(fields["publishedAt"])
        raw = json.dumps({**fields, "sig": expected}, ensure_ascii=False)
        check(f"vector {n}: verifies with the key", verify(raw, keys, now=published)["secretName"] == fields["secretName"])
        check(f"vector {n}: verifies as the second key of a list", code_of(raw, [b"x" * 32, TEST_VECTOR_KEY], now=published) == "accepted")
        tampered = json.dumps({**fields, "reason": fields["reason"] + "!", "sig": expected}, ensure_ascii=False)
        check(f"vector {n}: a changed field is bad-signature", code_of(tampered, keys, now=published) == "bad-signature")
        check(f"vector {n}: another key is bad-signature", code_of(raw, [b"y" * 32], now=published) == "bad-signature")
        check(f"vector {n}: without sig, unsigned", code_of(json.dumps(fields), keys, now=published) == "unsigned")
        check(f"vector {n}: no keys configured, sig ignored", code_of(json.dumps(fields), [], now=published) == "accepted")
        late = published + timedelta(seconds=DEFAULT_MAX_AGE_S + 1)
        check(f"vector {n}: {DEFAULT_MAX_AGE_S + 1} s later, too-old", code_of(raw, keys, now=late) == "too-old")
        check(f"vector {n}: too old but from the versions hash, accepted", code_of(raw, keys, now=late, check_age=False) == "accepted")
        early = published - timedelta(seconds=MAX_CLOCK_SKEW_S + 1)
        check(f"vector {n}: {MAX_CLOCK_SKEW_S + 1} s early, from-the-future", code_of(raw, keys, now=early) == "from-the-future")
    fields = TEST_VECTORS[0][0]
    for name, bad in (
        ("v is true", {**fields, "v": True}),
        ("v is 2", {**fields, "v": 2}),
        ("versionId is null", {**fields, "versionId": None}),
        ("reason has a line break", {**fields, "reason": "a\nb"}),
        ("id is not a UUID", {**fields, "id": "42"}),
        ("eventTime has no zone", {**fields, "eventTime": "2024-05-01T12:00:00"}),
    ):
        check(f"{name}: malformed", code_of(json.dumps(bad), keys) == "malformed")
    check("a JSON array: malformed", code_of("[]", keys) == "malformed")
    check("more than 64 KiB: malformed", code_of(" " * (MAX_MESSAGE_LENGTH + 1), keys) == "malformed")
    arn = fields["secretArn"]
    check("name prod/db matches …:secret:prod/db-AbCdEf", secret_matches("prod/db", None, arn))
    check("name prod/db does not match …:secret:prod/db-extra-AbCdEf", not secret_matches("prod/db", None, arn.replace("prod/db-", "prod/db-extra-")))
    check("a partial ARN matches the full one", secret_matches(arn[: -len("-AbCdEf")], None, arn))
    check("keys: at least 32 bytes", len(parse_signing_keys(" " + "k" * 32 + " , " + "j" * 40)) == 2)
    return done


# --------------------------------------------------------------------------------------------
# The subscriber: credentials in memory, kept current by invalidations (redis-py) and reads from
# Secrets Manager (boto3). Thread-safe; start() once per process (it restarts itself after a fork).
# --------------------------------------------------------------------------------------------


class _Secret:
    """One secret as the cache holds it: metadata is fine to log, `value` never is."""

    def __init__(self, name: str, secret_id: str) -> None:
        self.name = name
        self.secret_id = secret_id
        self.arn: Optional[str] = None
        self.version_id: Optional[str] = None
        self.value: Optional[Dict[str, Any]] = None
        self.fetched_at = 0.0
        self.acked_at = 0  # when this process first held version_id (ms), for the presence ack
        self.announced: List[str] = []  # versions an invalidation named (the missed-by-events check)
        self.pending: Optional[Tuple[str, Dict[str, Any]]] = None  # (version, value) in a single-user window
        self.pending_checked = 0.0
        self.last_auth_refresh = 0.0
        self.last_auth_result = False
        self.reset_locks()

    def reset_locks(self) -> None:
        self.lock = threading.Lock()  # guards the fields above; held only to read or write them
        self.refresh_lock = threading.Lock()  # one Secrets Manager read at a time (single flight)


class CredentialCache:
    """Holds JSON secrets (RDS format: username, password, host, port, dbname …) and keeps them
    current. `secrets` maps a logical name to a secret id (name or ARN)."""

    def __init__(
        self,
        secrets: Dict[str, str],
        redis_url: str,
        signing_keys: List[bytes],
        key_prefix: str = DEFAULT_KEY_PREFIX,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        poll_interval_s: float = 30 * 60,
        cluster: bool = False,
        redis_ca_file: Optional[str] = None,
        secrets_client: Any = None,
        presence: bool = True,
        heartbeat_interval_s: float = 10.0,
        presence_ttl_s: float = 30.0,
    ) -> None:
        self._secrets = {name: _Secret(name, secret_id) for name, secret_id in secrets.items()}
        self._redis_url = redis_url
        self._keys = signing_keys
        self._channel, self._versions_key = protocol_keys(key_prefix)
        self._prefix = key_prefix
        self._presence = presence
        self._heartbeat_s = heartbeat_interval_s
        self._presence_ttl_s = presence_ttl_s
        self._presence_due = threading.Event()  # set: write presence now (after a refresh, a (un)subscribe)
        self.instance_id = ""
        self._started_at_ms = int(time.time() * 1000)
        self._max_age_s = max_age_s
        self._poll_interval_s = poll_interval_s
        self._cluster = cluster
        self._redis_ca_file = redis_ca_file
        self._client = secrets_client
        self._own_client = secrets_client is None
        self._listeners: List[Callable[[str, str, str], None]] = []
        self._stop = threading.Event()
        self._pid: Optional[int] = None
        self._start_lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        self.counts = {"refreshes": 0, "failures": 0, "invalidations": 0, "rejected": 0, "auth_recoveries": 0, "missed_by_events": 0}
        self.connected = False

    # ---- public API ----------------------------------------------------------------------

    def on_rotated(self, listener: Callable[[str, str, str], None]) -> None:
        """`listener(name, version_id, trigger)` after a new AWSCURRENT version is in place."""
        self._listeners.append(listener)

    def start(self) -> "CredentialCache":
        """Reads every secret once (fails naming the secret it could not read), then subscribes
        and reconciles in a background thread, and polls as a fallback. Threads do not survive a
        fork (gunicorn, uwsgi workers): in a forked child this starts again by itself, with new
        locks, a new boto3 client and new Redis connections."""
        if self._pid == os.getpid():
            return self
        with self._start_lock:
            if self._pid == os.getpid():
                return self
            if self._pid is not None:  # we are a forked child of a started cache
                for secret in self._secrets.values():
                    secret.reset_locks()
                if self._own_client:
                    self._client = None
            self._stop = threading.Event()
            if self._client is None:
                import boto3  # credentials and AWS_ENDPOINT_URL from the usual AWS variables

                # botocore reads AWS_DEFAULT_REGION; the Node SDK and the worker read AWS_REGION.
                self._client = boto3.client("secretsmanager", region_name=os.environ.get("AWS_REGION") or None)
            for secret in self._secrets.values():
                if secret.value is None:
                    try:
                        self._fetch(secret, {"VersionStage": "AWSCURRENT"}, "start")
                    except Exception as error:
                        raise RuntimeError(f"rotation-relay: could not read secret {secret.secret_id}: {type(error).__name__}: {error}") from error
            # Unique per process: host, pid, and random hex that tells a recycled pid apart.
            self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(24):06x}"
            self._started_at_ms = int(time.time() * 1000)
            self._threads = [
                threading.Thread(target=self._listen, name="rotation-relay-listener", daemon=True),
                threading.Thread(target=self._poll, name="rotation-relay-poll", daemon=True),
            ]
            if self._presence:
                self._threads.append(threading.Thread(target=self._heartbeat, name="rotation-relay-presence", daemon=True))
            for thread in self._threads:
                thread.start()
            self._pid = os.getpid()
        return self

    def stop(self) -> None:
        """Stops the threads; the presence thread deregisters this instance (a clean stop is
        not a crash: status does not list it as stopped heartbeating)."""
        self._stop.set()
        self._presence_due.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def current(self, name: str) -> Tuple[str, Dict[str, Any]]:
        """(version, value) of AWSCURRENT as held now."""
        self.start()
        secret = self._secrets[name]
        with secret.lock:
            assert secret.version_id is not None and secret.value is not None
            return secret.version_id, secret.value

    def credentials(self, name: str) -> Tuple[str, Dict[str, Any]]:
        """What new connections should use: AWSCURRENT, or AWSPENDING while a single-user
        rotation's window is open (found by a failed login; dropped when AWSCURRENT moves)."""
        self.start()
        secret = self._secrets[name]
        with secret.lock:
            if secret.pending is not None:
                return secret.pending
            assert secret.version_id is not None and secret.value is not None
            return secret.version_id, secret.value

    def report_auth_failure(self, name: str) -> bool:
        """A server refused the credentials: re-read AWSCURRENT, at most once a second per
        secret and shared by every connection failing at the same time. True if it changed."""
        secret = self._secrets[name]
        with secret.refresh_lock:
            if time.monotonic() - secret.last_auth_refresh < 1.0:
                return secret.last_auth_result
            before = secret.version_id
            try:
                self._fetch_locked(secret, {"VersionStage": "AWSCURRENT"}, "auth-failure")
            except Exception as error:  # keep the last good value; the caller surfaces its own error
                log.warning("refresh of %s after a failed login failed: %s", name, type(error).__name__)
            secret.last_auth_refresh = time.monotonic()
            secret.last_auth_result = secret.version_id != before
            return secret.last_auth_result

    def use_pending(self, name: str) -> bool:
        """Reads AWSPENDING (at most once every 2 s per secret) and, if it is a version other
        than AWSCURRENT, uses it for new connections until AWSCURRENT moves. False when there is
        none: no rotation in progress."""
        secret = self._secrets[name]
        with secret.refresh_lock:
            if time.monotonic() - secret.pending_checked < 2.0:
                with secret.lock:
                    return secret.pending is not None
            secret.pending_checked = time.monotonic()
            client = self._client
            try:
                response = client.get_secret_value(SecretId=secret.arn or secret.secret_id, VersionStage="AWSPENDING")
            except client.exceptions.ResourceNotFoundException:
                return False
            with secret.lock:
                if response["VersionId"] == secret.version_id:
                    return False  # AWSPENDING left on the current version by a finished rotation
                secret.pending = (response["VersionId"], json.loads(response["SecretString"]))
        log.info("%s: using AWSPENDING version %s until AWSCURRENT moves (single-user rotation window)", name, response["VersionId"])
        return True

    def status(self) -> Dict[str, Any]:
        """Versions and counters for a health endpoint or a log line; never a value."""
        secrets = {}
        for s in self._secrets.values():
            with s.lock:
                secrets[s.name] = {"arn": s.arn, "version_id": s.version_id, "pending": s.pending[0] if s.pending else None, "fetched_at": s.fetched_at}
        return {"pubsub_connected": self.connected, "secrets": secrets, "counts": dict(self.counts)}

    # ---- refreshing ----------------------------------------------------------------------

    def _fetch(self, secret: _Secret, selector: Dict[str, str], trigger: str) -> bool:
        with secret.refresh_lock:
            return self._fetch_locked(secret, selector, trigger)

    def _fetch_locked(self, secret: _Secret, selector: Dict[str, str], trigger: str) -> bool:
        """One GetSecretValue (the caller holds refresh_lock). Adopts the answer only if it is
        AWSCURRENT; True when the held version changed."""
        response = self._client.get_secret_value(SecretId=secret.arn or secret.secret_id, **selector)
        self.counts["refreshes"] += 1
        if "AWSCURRENT" not in response.get("VersionStages", []):
            return False  # a stale or replayed version: never adopt anything but AWSCURRENT
        value = json.loads(response["SecretString"])
        with secret.lock:
            previous = secret.version_id
            changed = response["VersionId"] != previous
            secret.arn = response["ARN"]
            secret.value = value
            secret.version_id = response["VersionId"]
            secret.fetched_at = time.time()
            if changed:
                secret.acked_at = int(time.time() * 1000)
                secret.pending = None  # AWSCURRENT moved: the single-user window is over
        self._presence_due.set()  # ack after every refresh, changed or not
        if changed and previous is not None:
            log.info("%s: version %s -> %s (%s)", secret.name, previous, secret.version_id, trigger)
            for listener in self._listeners:
                try:
                    listener(secret.name, secret.version_id, trigger)
                except Exception:  # a listener's bug must not break refreshing
                    log.exception("a rotated listener failed")
        return changed

    def _refresh(self, secret: _Secret, version_id: Optional[str], trigger: str) -> None:
        """Fetch the named version (reads right after a stage move are eventually consistent:
        naming it avoids reading the old AWSCURRENT); if it is not AWSCURRENT, or no version was
        named, re-read AWSCURRENT for up to 5 s until it changes. Failures keep the last good
        value and retry with jittered exponential backoff."""
        for attempt in range(6):
            try:
                with secret.refresh_lock:
                    if version_id is not None and version_id == secret.version_id:
                        return  # already held (several triggers for one change share one read)
                    if version_id is not None and self._fetch_locked(secret, {"VersionId": version_id}, trigger):
                        return
                    before = secret.version_id
                    deadline = time.monotonic() + 5
                    while True:
                        if self._fetch_locked(secret, {"VersionStage": "AWSCURRENT"}, trigger) or version_id is None:
                            return  # changed, or a refresh without a version: one read is enough
                        if secret.version_id != before or time.monotonic() > deadline or self._stop.wait(0.5):
                            return
            except Exception as error:
                self.counts["failures"] += 1
                delay = random.uniform(0, min(60.0, 2.0**attempt))
                log.warning("refresh of %s failed (%s); retrying in %.1f s", secret.name, type(error).__name__, delay)
                if self._stop.wait(delay):
                    return

    def _refresh_in_background(self, secret: _Secret, version_id: Optional[str], trigger: str) -> None:
        threading.Thread(target=self._refresh, args=(secret, version_id, trigger), daemon=True).start()

    def _poll(self) -> None:
        while not self._stop.wait(self._poll_interval_s * random.uniform(0.9, 1.1)):
            for secret in self._secrets.values():
                try:
                    if self._fetch(secret, {"VersionStage": "AWSCURRENT"}, "poll"):
                        found = secret.version_id
                        # A poll may just beat an invalidation in flight: count it only if none
                        # announces the version within a minute.
                        timer = threading.Timer(60.0, self._check_announced, args=(secret, found))
                        timer.daemon = True
                        timer.start()
                except Exception as error:
                    log.warning("poll of %s failed: %s", secret.name, type(error).__name__)

    def _check_announced(self, secret: _Secret, version_id: Optional[str]) -> None:
        if version_id not in secret.announced:
            self.counts["missed_by_events"] += 1
            log.warning("%s changed to %s without an invalidation: check the event pipeline", secret.name, version_id)

    # ---- invalidations -------------------------------------------------------------------

    def _redis(self) -> Any:
        import redis  # redis-py 4.1+

        options: Dict[str, Any] = {"health_check_interval": 30, "socket_keepalive": True}
        if self._redis_ca_file:
            options["ssl_ca_certs"] = self._redis_ca_file
        if self._cluster:
            return redis.RedisCluster.from_url(self._redis_url, **options)
        return redis.Redis.from_url(self._redis_url, **options)

    def _listen(self) -> None:
        """Subscribe first, then reconcile (a broadcast sent meanwhile is seen at worst twice).
        Every (re)subscription reconciles again: Redis does not replay what was missed."""
        failures = 0
        stop = self._stop
        while not stop.is_set():
            pubsub = None
            try:
                client = self._redis()
                pubsub = client.pubsub()
                pubsub.subscribe(self._channel)
                while not stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":  # also after redis-py reconnected by itself
                        self.connected = True
                        self._presence_due.set()
                        failures = 0
                        self._reconcile(client)
                    elif message["type"] == "message":
                        self._on_message(message["data"])
            except Exception as error:
                self.connected = False
                self._presence_due.set()
                failures += 1
                delay = random.uniform(0, min(30.0, 0.5 * 2**failures))
                log.warning("invalidation listener: %s; reconnecting in %.1f s", type(error).__name__, delay)
                stop.wait(delay)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass
        self.connected = False

    def _on_message(self, data: Any) -> None:
        raw = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        try:
            msg = verify(raw, self._keys, self._max_age_s)
        except InvalidMessage as error:
            self.counts["rejected"] += 1
            log.warning("invalidation rejected: %s", error.code)  # the code, never the message
            return
        self.counts["invalidations"] += 1
        for secret in self._secrets.values():
            if secret_matches(secret.secret_id, secret.arn, msg["secretArn"]):
                if msg.get("versionId"):
                    secret.announced = (secret.announced + [msg["versionId"]])[-16:]
                self._refresh_in_background(secret, msg.get("versionId"), "invalidation")

    def _reconcile(self, client: Any) -> None:
        """HGETALL {P}:versions: refresh every secret whose broadcast version differs from ours."""
        for field, raw in client.hgetall(self._versions_key).items():
            arn = field.decode() if isinstance(field, bytes) else field
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            try:
                msg = verify(text, self._keys, check_age=False)  # old by design: signature only
            except InvalidMessage as error:
                log.warning("versions entry for %s skipped: %s", arn, error.code)
                continue
            for secret in self._secrets.values():
                if not secret_matches(secret.secret_id, secret.arn, msg["secretArn"]):
                    continue
                version_id = msg.get("versionId")
                if version_id:
                    secret.announced = (secret.announced + [version_id])[-16:]
                    if version_id != secret.version_id:
                        self._refresh_in_background(secret, version_id, "reconcile")
                elif parse_iso_datetime(msg["publishedAt"]).timestamp() > secret.fetched_at:
                    self._refresh_in_background(secret, None, "reconcile")


    # ---- presence and acknowledgements (docs/protocol.md, "Presence and acknowledgements") ----

    def _presence_fields(self, now_ms: int) -> Dict[str, Any]:
        fields: Dict[str, Any] = {
            "id": self.instance_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "startedAt": self._started_at_ms,
            "sdk": "rotation-relay-django-example/1",
            "runtime": f"python/{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}",
            "heartbeatAt": now_ms,
            "ttlMs": int(self._presence_ttl_s * 1000),
            "heartbeatIntervalMs": int(self._heartbeat_s * 1000),
            "subscribed": 1 if self.connected else 0,
        }
        for secret in self._secrets.values():
            with secret.lock:
                if secret.arn and secret.version_id:
                    fields[f"ack:{secret.arn}"] = f"{secret.version_id}@{secret.acked_at}"
        return fields

    def _heartbeat(self) -> None:
        """Every heartbeat interval, and right after every refresh or (un)subscription, one
        pipelined write of the whole presence hash: `status` and `wait-converged` then count this
        process, and the old credentials are not revoked while it still holds them."""
        instances, instance = f"{{{self._prefix}}}:instances", f"{{{self._prefix}}}:instance:{self.instance_id}"
        client = None
        next_beat = 0.0
        stop = self._stop
        while True:
            self._presence_due.wait(max(0.0, next_beat - time.monotonic()))
            self._presence_due.clear()
            try:
                client = client or self._redis()
                if stop.is_set():  # clean stop: deregister at once
                    pipe = client.pipeline(transaction=False)
                    pipe.zrem(instances, self.instance_id)
                    pipe.delete(instance)
                    pipe.execute()
                    return
                now = int(time.time() * 1000)
                heartbeat = time.monotonic() >= next_beat
                pipe = client.pipeline(transaction=False)
                pipe.zadd(instances, {self.instance_id: now})
                pipe.hset(instance, mapping=self._presence_fields(now))
                pipe.pexpire(instance, int(self._presence_ttl_s * 1000))
                if heartbeat:
                    pipe.zremrangebyscore(instances, "-inf", f"({now - 3_600_000}")  # keep an hour of stopped instances
                pipe.execute()
                if heartbeat:
                    next_beat = time.monotonic() + self._heartbeat_s
            except Exception as error:  # logged and retried at the next heartbeat; credentials unaffected
                log.warning("presence write failed: %s", type(error).__name__)
                client = None
                if stop.is_set():
                    return
                next_beat = time.monotonic() + self._heartbeat_s


# --------------------------------------------------------------------------------------------
# Django: one process-wide cache, and a database backend that takes its credentials from it.
# --------------------------------------------------------------------------------------------

_cache: Optional[CredentialCache] = None
_cache_lock = threading.Lock()


def get_cache() -> CredentialCache:
    """The process-wide cache, built from settings.ROTATION_RELAY on first use:

        ROTATION_RELAY = {
            "SECRETS": {"db": "prod/app/db"},                 # logical name → secret name or ARN
            "REDIS_URL": "rediss://my-cache…:6379",           # default: ROTATION_RELAY_REDIS_URL
            "SIGNING_KEYS": "…,…",                            # default: ROTATION_RELAY_SIGNING_KEYS
            "KEY_PREFIX": "rotation-relay",                   # default: ROTATION_RELAY_KEY_PREFIX
            "CLUSTER": False,                                 # default: ROTATION_RELAY_REDIS_CLUSTER
            "POLL_INTERVAL_SECONDS": 1800,
        }
    """
    global _cache
    with _cache_lock:
        if _cache is None:
            from django.conf import settings

            conf = getattr(settings, "ROTATION_RELAY", {})
            env = os.environ
            _cache = CredentialCache(
                secrets=conf["SECRETS"],
                redis_url=conf.get("REDIS_URL") or env.get("ROTATION_RELAY_REDIS_URL", "redis://127.0.0.1:6379"),
                signing_keys=parse_signing_keys(conf.get("SIGNING_KEYS") or env.get("ROTATION_RELAY_SIGNING_KEYS")),
                key_prefix=conf.get("KEY_PREFIX") or env.get("ROTATION_RELAY_KEY_PREFIX", DEFAULT_KEY_PREFIX),
                max_age_s=float(conf.get("MAX_AGE_SECONDS") or env.get("ROTATION_RELAY_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_S)),
                poll_interval_s=float(conf.get("POLL_INTERVAL_SECONDS", 30 * 60)),
                cluster=bool(conf.get("CLUSTER", env.get("ROTATION_RELAY_REDIS_CLUSTER", "false") == "true")),
                redis_ca_file=conf.get("REDIS_TLS_CA_FILE") or env.get("ROTATION_RELAY_REDIS_TLS_CA_FILE"),
            )
    return _cache.start()


def is_auth_error(error: BaseException) -> bool:
    """PostgreSQL refused the login: SQLSTATE 28P01 / 28000 (psycopg 3 `sqlstate`, psycopg2
    `pgcode`), or, for errors raised while connecting that carry no code, the server's text."""
    code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if code in ("28P01", "28000"):
        return True
    text = str(error)
    return "password authentication failed" in text or "no pg_hba.conf entry" in text


def rotating_database_wrapper(secret: str = "db", engine: str = "django.db.backends.postgresql") -> type:
    """A DatabaseWrapper for `engine` whose USER and PASSWORD come from the cache's secret
    `secret` (HOST, PORT and NAME too when settings leave them empty):

    - new connections use the credentials held now (AWSPENDING during a single-user window);
    - a refused login refreshes AWSCURRENT and retries once, then tries AWSPENDING, then raises
      the original error: a recovered failure never reaches the view;
    - after a rotation, each thread's connection is closed at its next request boundary
      (close_old_connections) and reopened with the new credentials.
    """
    from importlib import import_module

    base = import_module(f"{engine}.base")

    class DatabaseWrapper(base.DatabaseWrapper):  # type: ignore[misc,name-defined]
        _credential_version: Optional[str] = None

        def get_connection_params(self) -> Dict[str, Any]:
            version, value = get_cache().credentials(secret)
            for setting, field in (("HOST", "host"), ("PORT", "port"), ("NAME", "dbname")):
                if not self.settings_dict.get(setting) and value.get(field):
                    self.settings_dict[setting] = str(value[field])
            params = super().get_connection_params()
            params["user"] = value["username"]
            params["password"] = value["password"]
            self._params_version = version
            return params

        def get_new_connection(self, conn_params: Dict[str, Any]) -> Any:
            try:
                connection = super().get_new_connection(conn_params)
            except Exception as error:
                if not is_auth_error(error):
                    raise
                connection = self._recover(error)
            self._credential_version = self._params_version
            return connection

        def _recover(self, error: BaseException) -> Any:
            """docs/protocol.md, "Authentication failure path"."""
            cache = get_cache()
            # 1. AWSCURRENT moved and we had not heard yet: retry once with it.
            if cache.report_auth_failure(secret):
                try:
                    return self._connect_again(cache)
                except Exception as retry_error:
                    if not is_auth_error(retry_error):
                        raise
            # 2. The single-user window: the server already has the AWSPENDING password.
            if cache.use_pending(secret):
                try:
                    return self._connect_again(cache)
                except Exception as retry_error:
                    if not is_auth_error(retry_error):
                        raise
            raise error  # 3. not a rotation: the original error

        def _connect_again(self, cache: CredentialCache) -> Any:
            connection = super().get_new_connection(self.get_connection_params())
            cache.counts["auth_recoveries"] += 1
            return connection

        def close_if_unusable_or_obsolete(self) -> None:
            super().close_if_unusable_or_obsolete()
            if self.connection is not None and self._credential_version != get_cache().credentials(secret)[0] and not self.in_atomic_block:
                self.close()  # credentials rotated: reconnect with the new ones at this request boundary

    return DatabaseWrapper


def register_backend(module_name: str, secret: str = "db", engine: str = "django.db.backends.postgresql") -> None:
    """Makes `module_name` usable as DATABASES[...]["ENGINE"] without a package on disk (this
    file's --run mode). In a project, prefer a two-line package: see docs/python-subscriber.md."""
    import types

    package = types.ModuleType(module_name)
    package.__path__ = []  # a package, so that Django can import module_name + ".base"
    backend = types.ModuleType(f"{module_name}.base")
    backend.DatabaseWrapper = rotating_database_wrapper(secret, engine)  # type: ignore[attr-defined]
    package.base = backend  # type: ignore[attr-defined]
    sys.modules[module_name] = package
    sys.modules[f"{module_name}.base"] = backend


# --------------------------------------------------------------------------------------------
# --run: a standalone Django process, e.g. against `npm run demo`'s services.
# --------------------------------------------------------------------------------------------

RUN_HELP = """usage: django_subscriber.py --run

Runs Django (no project needed) with the rotating PostgreSQL backend and queries the database
through it every 20 ms, as request threads would, printing each rotation and the counts every
5 seconds until Ctrl-C. Environment:

  DB_SECRET_ID                 the database secret (RDS JSON: username, password, host, port, dbname)
  ROTATION_RELAY_REDIS_URL     default redis://127.0.0.1:6379
  ROTATION_RELAY_SIGNING_KEYS  comma-separated, current first (unset: unsigned messages accepted)
  ROTATION_RELAY_KEY_PREFIX    default rotation-relay
  AWS_REGION, AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, …   as for any boto3 client

Needs: pip install django redis boto3 "psycopg[binary]"
"""


def run() -> int:
    import django
    from django.conf import settings
    from django.db import close_old_connections, connection

    secret_id = os.environ.get("DB_SECRET_ID")
    if not secret_id:
        print(RUN_HELP, file=sys.stderr)
        return 2
    register_backend("rotation_relay_backend", "db")
    settings.configure(
        DATABASES={"default": {"ENGINE": "rotation_relay_backend", "NAME": "", "CONN_MAX_AGE": int(os.environ.get("CONN_MAX_AGE", "0"))}},
        ROTATION_RELAY={"SECRETS": {"db": secret_id}},
        USE_TZ=True,
    )
    django.setup()
    cache = get_cache()
    cache.on_rotated(lambda name, version, trigger: print(f"rotated: {name} → {version} ({trigger})", flush=True))
    print(f"holding {secret_id} version {cache.current('db')[0]}; querying every 20 ms (Ctrl-C stops)", flush=True)
    ok = failed = 0
    last_report = time.monotonic()
    try:
        while True:
            close_old_connections()  # what Django does at every request start and end
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
                ok += 1
            except Exception as error:
                failed += 1
                print(f"query failed: {type(error).__name__}: {error}", flush=True)
            if time.monotonic() - last_report > 5:
                status = cache.status()
                print(f"queries ok {ok}, failed {failed}; pub/sub connected: {status['pubsub_connected']}; counts {status['counts']}", flush=True)
                last_report = time.monotonic()
            time.sleep(0.02)
    except KeyboardInterrupt:
        pass
    finally:
        cache.stop()
    print(f"summary: queries ok {ok}, failed {failed}", flush=True)
    return 0 if failed == 0 else 1


def main(argv: List[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if argv[1:2] == ["--self-test"]:
        for line in self_test():
            print(line)
        print("self-test passed: this file signs and verifies as docs/protocol.md specifies")
        return 0
    if argv[1:2] == ["--run"]:
        return run()
    print(__doc__)
    print(RUN_HELP)
    return 0 if argv[1:2] in (["-h"], ["--help"]) else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
