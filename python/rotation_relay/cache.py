"""The credential cache: secrets in memory, kept current by the worker's invalidations (redis-py)
and reads from Secrets Manager (boto3), the subscriber algorithm of docs/protocol.md.

Thread-safe. Threads do not survive a fork: in a forked child (gunicorn, uwsgi workers) the
first use starts the listener, poll and presence threads again, with new locks, a new boto3
client, new Redis connections and a new instance id.
"""
from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import traceback
import weakref
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from .protocol import DEFAULT_KEY_PREFIX, DEFAULT_MAX_AGE_S, MAX_CLOCK_SKEW_S, InvalidMessage, parse_iso_datetime, protocol_keys, secret_matches, verify
from .presence import PresenceWriter
from .secret_state import NO_REQUEST, SecretSpec, SecretState

log = logging.getLogger("rotation_relay")

Listener = Callable[[str, str, str], None]

# The bounds of docs/protocol.md (Subscriber algorithm, Bounds), with the Node SDK's defaults.
PACED_TRIGGERS = ("invalidation", "reconcile")  # what whoever can publish may ask for, at any rate
PACE_S = 0.5  # a paced refresh starts at least this long after the previous one (refillIntervalMs)
REMEMBERED_VERSIONS = 256  # versions found missing or stale, remembered ...
REMEMBER_VERSIONS_S = 300.0  # ... this long (refreshBudget.rememberVersionsMs)


class SecretReadError(RuntimeError):
    """start() could not read a secret and it has no usable env fallback. Names the secret and
    the error class, never a value."""

    code = "SECRET_READ_FAILED"

    def __init__(self, secret_id: str, cause: BaseException) -> None:
        super().__init__(f"rotation-relay: could not read secret {secret_id}: {type(cause).__name__}")
        self.secret_id = secret_id
        self.__cause__ = cause


class SigningKeysRequired(ValueError):
    code = "SIGNING_KEYS_REQUIRED"


def _where(error: BaseException) -> str:
    """file:line of the innermost frame that raised `error` (for logs: no message text)."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else "?"


_live_caches: "weakref.WeakSet[CredentialCache]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for cache in list(_live_caches):
        cache._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class CredentialCache:
    """Holds secrets and keeps them current.

    secrets:              logical name -> secret name/ARN, dict or SecretSpec.
    redis_url:            the invalidation bus (redis:// or rediss://). None: no bus, poll only.
    signing_keys:         the worker's ROTATION_RELAY_SIGNING_KEYS as bytes (parse_signing_keys).
                          Required with a bus unless allow_unsigned=True (announced with a warning).
    key_prefix:           default "rotation-relay".
    max_age_s:            replay bound of live messages, default 300.
    poll_interval_s:      fallback poll, default 1800 (±10 % jitter).
    cluster:              use redis-py's RedisCluster for the command connection, default False.
    presence:             write presence and acks, default True (only with a bus).
    heartbeat_interval_s: default 10; presence_ttl_s: default 30.
    backoff_min_s / backoff_max_s: jittered exponential backoff of failed reads, default 1 / 60.
    secrets_client_factory: builds the boto3 client (per process); default boto3.client(
                          "secretsmanager") with AWS_REGION honoured.
    """

    def __init__(
        self,
        secrets: Dict[str, Union[str, Dict[str, Any], SecretSpec]],
        redis_url: Optional[str] = None,
        signing_keys: Optional[List[bytes]] = None,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        poll_interval_s: float = 30 * 60,
        cluster: bool = False,
        redis_ca_file: Optional[str] = None,
        presence: bool = True,
        heartbeat_interval_s: float = 10.0,
        presence_ttl_s: float = 30.0,
        allow_unsigned: bool = False,
        backoff_min_s: float = 1.0,
        backoff_max_s: float = 60.0,
        missed_grace_s: float = 60.0,
        secrets_client_factory: Optional[Callable[[], Any]] = None,
    ) -> None:
        self._keys = list(signing_keys or [])
        if redis_url and not self._keys and not allow_unsigned:
            raise SigningKeysRequired(
                "rotation-relay: signing keys are required with a Redis bus (ROTATION_RELAY_SIGNING_KEYS); "
                "unsigned mode must be asked for with allow_unsigned=True"
            )
        if redis_url and not self._keys:
            log.warning("UNSIGNED_MODE invalidations are accepted without signatures: anyone who can publish can trigger reads")
        self._secrets = {name: SecretState(name, SecretSpec.of(spec)) for name, spec in secrets.items()}
        self._redis_url = redis_url
        self.key_prefix = key_prefix
        self._channel, self._versions_key = protocol_keys(key_prefix)
        self._max_age_s = max_age_s
        self._poll_interval_s = poll_interval_s
        self._cluster = cluster
        self._redis_ca_file = redis_ca_file
        self._backoff = (backoff_min_s, backoff_max_s)
        self._missed_grace_s = missed_grace_s
        self._client_factory = secrets_client_factory
        self._client: Any = None
        self._presence = PresenceWriter(self, heartbeat_interval_s, presence_ttl_s) if presence and redis_url else None
        self._listeners: List[Listener] = []
        self._revoke_listeners: List[Callable[[str, str], None]] = []
        self._handled_ids: "OrderedDict[str, float]" = OrderedDict()
        self._stop = threading.Event()
        self._pid: Optional[int] = None
        self._start_lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        self.instance_id = ""
        self.started_at_ms = int(time.time() * 1000)
        self.subscribed = False
        self.subscribed_at: Optional[float] = None
        self.counts = dict.fromkeys(
            ("reads", "refreshes", "read_failures", "invalidations", "rejected", "replays", "reconciles",
             "auth_failures", "auth_recoveries", "pending_used", "missed_by_events", "versions_state_lost", "listener_reconnects",
             "refreshes_throttled", "stale_skipped"),
            0,
        )
        self._counts_lock = threading.Lock()
        _live_caches.add(self)

    # ---- public API ------------------------------------------------------------------------

    def on_rotated(self, listener: Listener) -> None:
        """`listener(name, version_id, trigger)` after a new AWSCURRENT version is in place
        (trigger: invalidation, reconcile, poll, auth-failure, start)."""
        self._listeners.append(listener)

    def on_revoked(self, listener: Callable[[str, str], None]) -> None:
        """`listener(name, version_id)` for a signed `terminateOld` broadcast, once its refresh settled."""
        self._revoke_listeners.append(listener)

    def start(self) -> "CredentialCache":
        """Reads every secret not held yet (falls back to the environment where configured, else
        raises SecretReadError naming the secret), then starts the threads. Idempotent per process."""
        if self._pid == os.getpid():
            return self
        with self._start_lock:
            if self._pid == os.getpid():
                return self
            self._stop = threading.Event()
            if self._redis_url:
                # Import redis-py here, in the caller's thread, never first in one of ours: a
                # pre-fork master (gunicorn --preload) that forks while our thread is half-way
                # through `import redis` leaves every child a half-initialised module
                # (AttributeError: redis.Redis) or a module lock no thread will ever release.
                # The same for the codec socket.getaddrinfo loads on its first host name.
                import encodings.idna  # noqa: F401

                import redis  # noqa: F401
                import redis.client  # noqa: F401
                import redis.connection  # noqa: F401
            for secret in self._secrets.values():
                if secret.value is None:
                    self._initial_read(secret)
            # Unique per process: host, pid, and random hex that tells a recycled pid apart.
            self.instance_id = f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(24):06x}"
            self.started_at_ms = int(time.time() * 1000)
            self._threads = [self._thread(self._poll, "poll")]
            if self._redis_url:
                self._threads.append(self._thread(self._listen, "listener"))
            if self._presence is not None:
                self._threads.append(self._thread(lambda: self._presence.run(self._stop), "presence"))  # type: ignore[union-attr]
            for thread in self._threads:
                thread.start()
            self._pid = os.getpid()
        return self

    def stop(self) -> None:
        """Stops the threads; presence deregisters this instance (ZREM + DEL)."""
        self._stop.set()
        if self._presence is not None:
            self._presence.due.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._threads = []
        self._pid = None
        self.subscribed = False

    def current(self, name: str) -> Tuple[str, Any]:
        """(version, value) of AWSCURRENT as held now."""
        self.start()
        secret = self._secrets[name]
        with secret.lock:
            return str(secret.version_id), secret.value

    def credentials(self, name: str) -> Tuple[str, Any]:
        """What new connections should use: AWSCURRENT, or AWSPENDING while a single-user
        rotation's window is open (found by a failed login; dropped when AWSCURRENT moves)."""
        self.start()
        secret = self._secrets[name]
        with secret.lock:
            if secret.pending is not None:
                return secret.pending
            return str(secret.version_id), secret.value

    def version(self, name: str) -> str:
        return self.credentials(name)[0]

    def report_auth_failure(self, name: str, failed_version: Optional[str] = None) -> bool:
        """A server refused the credentials: re-read AWSCURRENT, at most once a second per secret
        and held version, shared by every connection failing at the same time. True if the
        version changed.

        failed_version: the version the refused attempt logged in with. When what the cache holds
        now differs (a broadcast switched it while that login was in flight), True at once,
        without a read: the attempt was simply late, and AWSCURRENT as held is already newer."""
        secret = self._secrets[name]
        self._count("auth_failures")
        if failed_version is None:
            failed_version = self.credentials(name)[0]
        if self.credentials(name)[0] != failed_version:
            return True
        with secret.refresh_lock:
            # Again once the lock is ours: the broadcast's own read may have held it, and switched.
            if self.credentials(name)[0] != failed_version:
                return True
            # The bound holds only while the version is the one that read saw: a result from
            # before AWSCURRENT last moved says nothing about the next rotation, which may follow
            # within the second (its login failures would all be refused without a read).
            if time.monotonic() - secret.last_auth_refresh < 1.0 and secret.last_auth_version == secret.version_id:
                return secret.last_auth_result
            before = secret.version_id
            try:
                self._read(secret, {"VersionStage": "AWSCURRENT"}, "auth-failure")
            except Exception as error:  # keep the last good value; the caller surfaces its own error
                log.warning("refresh of %s after a failed login failed: %s", name, type(error).__name__)
            secret.last_auth_refresh = time.monotonic()
            secret.last_auth_version = secret.version_id
            secret.last_auth_result = secret.version_id != before
            return secret.last_auth_result

    def use_pending(self, name: str) -> bool:
        """Reads AWSPENDING (at most once a second per secret and held version) and, if it is a version other than
        AWSCURRENT, uses it for new connections until AWSCURRENT moves. False: no rotation open."""
        secret = self._secrets[name]
        with secret.refresh_lock:
            if time.monotonic() - secret.pending_checked < 1.0 and secret.pending_checked_version == secret.version_id:
                with secret.lock:
                    return secret.pending is not None
            secret.pending_checked = time.monotonic()
            secret.pending_checked_version = secret.version_id
            client = self._secrets_client()
            try:
                response = client.get_secret_value(SecretId=secret.arn or secret.spec.secret_id, VersionStage="AWSPENDING")
            except Exception as error:
                self._count("reads")
                if type(error).__name__ != "ResourceNotFoundException":
                    log.warning("AWSPENDING read of %s failed: %s", name, type(error).__name__)
                return False
            self._count("reads")
            with secret.lock:
                if response["VersionId"] == secret.version_id:
                    return False  # AWSPENDING left on the current version by a finished rotation
                secret.pending = (response["VersionId"], self._decode(secret, response))
        self._count("pending_used")
        log.info("%s: using AWSPENDING version %s until AWSCURRENT moves (single-user rotation window)", name, response["VersionId"])
        return True

    def refresh(self, name: str) -> bool:
        """Re-reads AWSCURRENT now (a forced refresh); True if the version changed."""
        secret = self._secrets[name]
        with secret.refresh_lock:
            return self._read(secret, {"VersionStage": "AWSCURRENT"}, "forced")

    def status(self) -> Dict[str, Any]:
        """Versions, sources, pub/sub state, presence and counters for a health endpoint; never a value."""
        secrets = {}
        for s in self._secrets.values():
            with s.lock:
                secrets[s.name] = {
                    "secret_id": s.spec.secret_id,
                    "arn": s.arn,
                    "version_id": s.version_id,
                    "pending_version_id": s.pending[0] if s.pending else None,
                    "source": s.source,
                    "fetched_at": s.fetched_at or None,
                    "last_error": s.last_error,
                }
        return {
            "instance_id": self.instance_id,
            "pid": os.getpid(),
            "started": self._pid == os.getpid(),
            "signed": bool(self._keys),
            "pubsub": {"configured": bool(self._redis_url), "connected": self.subscribed, "subscribed_at": self.subscribed_at},
            "secrets": secrets,
            "presence": self._presence.status() if self._presence is not None else None,
            "counts": dict(self.counts),
        }

    def secret_states(self) -> List[SecretState]:
        return list(self._secrets.values())

    def redis_client(self) -> Any:
        """A command connection to the bus (presence, reconcile)."""
        return self._redis(None)

    # ---- reading -----------------------------------------------------------------------------

    def _thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        return threading.Thread(target=target, name=f"rotation-relay-{name}", daemon=True)

    def _count(self, key: str, n: int = 1) -> None:
        with self._counts_lock:
            self.counts[key] += n

    def _secrets_client(self) -> Any:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                import boto3  # credentials and AWS_ENDPOINT_URL from the usual AWS variables

                # botocore reads AWS_DEFAULT_REGION; the Node SDK and the worker read AWS_REGION.
                self._client = boto3.client("secretsmanager", region_name=os.environ.get("AWS_REGION") or None,
                                            endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
        return self._client

    def _decode(self, secret: SecretState, response: Dict[str, Any]) -> Any:
        raw = response.get("SecretString")
        if raw is None:
            raise ValueError(f"secret {secret.name} has no SecretString")
        return json.loads(raw) if secret.spec.json else raw

    def _initial_read(self, secret: SecretState) -> None:
        try:
            with secret.refresh_lock:
                self._read(secret, {"VersionStage": "AWSCURRENT"}, "start")
        except Exception as error:
            value = secret.spec.value_from_env()
            if value is None:
                raise SecretReadError(secret.spec.secret_id, error) from error
            with secret.lock:
                secret.value, secret.source, secret.version_id = value, "env-fallback", None
                secret.acked_at_ms = int(time.time() * 1000)
                secret.last_error = type(error).__name__
            log.warning("ENV_FALLBACK %s: Secrets Manager unreachable (%s); using the environment until a read succeeds",
                        secret.name, type(error).__name__)
            self._request_refresh(secret, None, "env-fallback-retry")

    def _read(self, secret: SecretState, selector: Dict[str, str], trigger: str) -> bool:
        """One GetSecretValue (the caller holds refresh_lock). Adopts the answer only if it is
        AWSCURRENT; True when the held version changed."""
        try:
            response = self._secrets_client().get_secret_value(SecretId=secret.arn or secret.spec.secret_id, **selector)
        except Exception as error:
            self._count("reads")
            with secret.lock:
                secret.last_error = type(error).__name__
            raise
        self._count("reads")
        if "AWSCURRENT" not in response.get("VersionStages", []):
            return False  # a stale or replayed version: never adopt anything but AWSCURRENT
        return self._install(secret, response["ARN"], response["VersionId"], self._decode(secret, response), trigger)

    def _read_named(self, secret: SecretState, version_id: str, trigger: str) -> str:
        """GetSecretValue of `version_id` (the caller holds refresh_lock): "current" (installed),
        "pending", or "stale" / "missing", which are remembered (docs/protocol.md, Bounds)."""
        try:
            response = self._secrets_client().get_secret_value(SecretId=secret.arn or secret.spec.secret_id, VersionId=version_id)
        except Exception as error:
            self._count("reads")
            if type(error).__name__ != "ResourceNotFoundException":
                with secret.lock:
                    secret.last_error = type(error).__name__
                raise
            self._remember_dead(secret, version_id)
            return "missing"
        self._count("reads")
        stages = response.get("VersionStages", [])
        if "AWSCURRENT" in stages:
            self._install(secret, response["ARN"], response["VersionId"], self._decode(secret, response), trigger)
            return "current"
        if "AWSPENDING" in stages:
            return "pending"
        self._remember_dead(secret, version_id)
        return "stale"

    def _remember_dead(self, secret: SecretState, version_id: str) -> None:
        with secret.lock:
            secret.dead_versions.pop(version_id, None)
            secret.dead_versions[version_id] = time.time()
            while len(secret.dead_versions) > REMEMBERED_VERSIONS:
                secret.dead_versions.popitem(last=False)

    def _known_dead(self, secret: SecretState, version_id: Optional[str], published_at: Optional[str]) -> bool:
        """A message naming a version a read found missing or stale after the message was
        published (with the clock-skew tolerance to spare) costs nothing. A later one is read
        again: it may announce a genuine roll-back onto that version."""
        if version_id is None or published_at is None:
            return False
        with secret.lock:
            read_at = secret.dead_versions.get(version_id)
        if read_at is None or time.time() - read_at > REMEMBER_VERSIONS_S:
            return False
        try:
            published = parse_iso_datetime(published_at).timestamp()
        except ValueError:
            return False
        return published + MAX_CLOCK_SKEW_S < read_at

    def _install(self, secret: SecretState, arn: Optional[str], version_id: str, value: Any, trigger: str) -> bool:
        """Holds `version_id` as AWSCURRENT; True when the held version changed."""
        with secret.lock:
            previous = secret.version_id
            changed = version_id != previous
            secret.arn, secret.value, secret.version_id = arn, value, version_id
            secret.source, secret.fetched_at, secret.last_error = "secrets-manager", time.time(), None
            if changed:
                secret.acked_at_ms = int(time.time() * 1000)
                secret.pending = None  # AWSCURRENT moved: the single-user window is over
        self._count("refreshes")
        if self._presence is not None:
            self._presence.due.set()  # ack after every refresh, changed or not
        if changed and previous is not None:
            log.info("%s: version %s -> %s (%s)", secret.name, previous, version_id, trigger)
            for listener in self._listeners:
                try:
                    listener(secret.name, version_id, trigger)
                except Exception:  # a listener's bug must not break refreshing
                    log.exception("a rotated listener failed")
        return changed

    def _install_pending(self, secret: SecretState, version_id: str, trigger: str) -> bool:
        """The AWSPENDING shortcut, as the Node SDK has it: a broadcast naming the version already
        read as AWSPENDING (the single-user window, found by a refused login) installs it without
        another read. The worker broadcasts a version only once it is AWSCURRENT, and its value is
        the one new connections already use. True when it applied."""
        with secret.lock:
            pending = secret.pending
        if pending is None or pending[0] != version_id:
            return False
        self._install(secret, secret.arn, version_id, pending[1], trigger)
        return True

    def _request_refresh(self, secret: SecretState, version_id: Optional[str], trigger: str, published_at: Optional[str] = None) -> None:
        """Single flight: one read in flight per secret and one request waiting; a new request
        merges into the waiting one (two different versions become one AWSCURRENT read)."""
        if self._known_dead(secret, version_id, published_at):
            self._count("stale_skipped")
            return
        with secret.lock:
            if version_id is not None and version_id == secret.version_id and secret.source == "secrets-manager":
                return  # already held
            if secret.waiting is NO_REQUEST:
                secret.waiting = version_id
            elif secret.waiting != version_id:
                secret.waiting = None
            secret.waiting_trigger = trigger
            if secret.worker_running:
                return
            secret.worker_running = True
        self._thread(lambda: self._refresh_worker(secret), f"refresh-{secret.name}").start()

    def _refresh_worker(self, secret: SecretState) -> None:
        while not self._stop.is_set():
            with secret.lock:
                wanted, trigger = secret.waiting, secret.waiting_trigger
                if wanted is NO_REQUEST:
                    secret.worker_running = False
                    return
                paced = trigger in PACED_TRIGGERS
                delay = secret.next_paced_start - time.monotonic() if paced else 0.0
                if delay <= 0:
                    secret.waiting = NO_REQUEST
            if delay > 0:
                # Whoever can publish decides how many messages arrive: a paced refresh starts at
                # most every PACE_S, newer requests merging into the waiting one meanwhile.
                self._count("refreshes_throttled")
                self._stop.wait(delay)
                continue
            started, before = time.monotonic(), secret.version_id
            self._refresh(secret, wanted, trigger)
            if paced:
                # Only a genuine rotation makes a read productive: it lifts the spacing.
                secret.next_paced_start = started if secret.version_id != before else started + PACE_S
        with secret.lock:
            secret.worker_running = False

    def _refresh(self, secret: SecretState, version_id: Optional[str], trigger: str) -> None:
        """Read the named version (reads right after a stage move are eventually consistent:
        naming it avoids the old AWSCURRENT); if it is not AWSCURRENT, or none was named,
        re-read AWSCURRENT for up to 5 s until it changes. Failures keep the last good value and
        retry with jittered exponential backoff."""
        low, high = self._backoff
        attempt = 0
        while not self._stop.is_set():
            try:
                with secret.refresh_lock:
                    if version_id is not None and version_id == secret.version_id:
                        return
                    if version_id is not None and trigger == "invalidation" and self._install_pending(secret, version_id, trigger):
                        return
                    if version_id is not None:
                        outcome = self._read_named(secret, version_id, trigger)
                        if outcome == "current":
                            return
                        if outcome != "pending":
                            # Missing, or an old version (a replay, a stale message): remembered, and
                            # one AWSCURRENT read settles it. Only AWSPENDING, whose label move may not
                            # be visible yet, is worth the re-reads below.
                            self._read(secret, {"VersionStage": "AWSCURRENT"}, trigger)
                            return
                    before = secret.version_id
                    deadline = time.monotonic() + 5
                    while True:
                        if self._read(secret, {"VersionStage": "AWSCURRENT"}, trigger) or version_id is None:
                            return  # changed, or a refresh without a version: one read is enough
                        if secret.version_id != before or time.monotonic() > deadline or self._stop.wait(0.25):
                            return
            except Exception as error:
                self._count("read_failures")
                delay = random.uniform(0, min(high, low * 2**attempt))  # full jitter
                attempt += 1
                log.warning("refresh of %s failed (%s); retrying in %.1f s", secret.name, type(error).__name__, delay)
                if self._stop.wait(delay):
                    return

    def _poll(self) -> None:
        stop = self._stop
        while not stop.wait(self._poll_interval_s * random.uniform(0.9, 1.1)):
            for secret in self._secrets.values():
                try:
                    with secret.refresh_lock:
                        changed = self._read(secret, {"VersionStage": "AWSCURRENT"}, "poll")
                    if changed:
                        # A poll may just beat an invalidation in flight: count it only if none
                        # announces the version within the grace period.
                        timer = threading.Timer(self._missed_grace_s, self._check_announced, args=(secret, secret.version_id))
                        timer.daemon = True
                        timer.start()
                except Exception as error:
                    log.warning("poll of %s failed: %s", secret.name, type(error).__name__)

    def _check_announced(self, secret: SecretState, version_id: Optional[str]) -> None:
        if version_id not in secret.announced:
            self._count("missed_by_events")
            log.warning("MISSED_BY_EVENTS %s changed to %s without an invalidation: check the event pipeline", secret.name, version_id)

    # ---- invalidations -----------------------------------------------------------------------

    def _redis(self, client_name: Optional[str]) -> Any:
        import redis  # redis-py 4.1+

        options: Dict[str, Any] = {"socket_keepalive": True, "socket_connect_timeout": 5, "socket_timeout": 5}
        if client_name:
            options["client_name"] = client_name
        if self._redis_ca_file:
            options["ssl_ca_certs"] = self._redis_ca_file
        if self._cluster and client_name is None:
            return redis.RedisCluster.from_url(self._redis_url, **options)
        return redis.Redis.from_url(self._redis_url, **options)

    def _listen(self) -> None:
        """Subscribe first, then reconcile (a broadcast sent meanwhile is seen at worst twice).
        Every (re)subscription reconciles again: Redis does not replay what was missed."""
        failures = 0
        stop = self._stop
        ping_every = self._presence.heartbeat_s if self._presence is not None else 10.0
        while not stop.is_set():
            pubsub = None
            try:
                # Named so that status and wait-converged match this connection to our presence.
                client = self._redis(f"rotation-relay:listener:{self.instance_id}")
                pubsub = client.pubsub()
                pubsub.subscribe(self._channel)
                last_ping = time.monotonic()
                while not stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if time.monotonic() - last_ping > ping_every:
                        pubsub.ping()  # a silent partition: no answer within socket_timeout tears it down
                        last_ping = time.monotonic()
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self.subscribed, self.subscribed_at = True, time.time()
                        if self._presence is not None:
                            self._presence.due.set()
                        failures = 0
                        self._reconcile()
                    elif message["type"] == "message":
                        self._on_message(message["data"])
            except Exception as error:
                self.subscribed = False
                self._count("listener_reconnects")
                if self._presence is not None:
                    self._presence.due.set()
                failures += 1
                delay = random.uniform(0.05, min(2.0, 0.05 * 2**failures))
                # The error class and where it was raised (file:line), never its text: a server's
                # reply may echo what it was sent.
                log.warning("invalidation listener: %s at %s; reconnecting in %.2f s", type(error).__name__, _where(error), delay)
                stop.wait(delay)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass
        self.subscribed = False

    def _on_message(self, data: Any) -> None:
        raw = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        try:
            msg = verify(raw, self._keys, self._max_age_s)
        except InvalidMessage as error:
            self._count("rejected")
            log.warning("invalidation rejected: %s", error.code)  # the code, never the message
            return
        self._count("invalidations")
        if msg["id"] in self._handled_ids:
            self._count("replays")
            return
        self._handled_ids[msg["id"]] = time.monotonic()
        while len(self._handled_ids) > 256:
            self._handled_ids.popitem(last=False)
        for secret in self._secrets.values():
            if secret_matches(secret.spec.secret_id, secret.arn, msg["secretArn"]):
                secret.seen_in_hash = True  # the worker stores what it broadcasts in the same script
                if msg.get("versionId"):
                    secret.announced.append(msg["versionId"])
                self._request_refresh(secret, msg.get("versionId"), "invalidation", msg.get("publishedAt"))
                if msg.get("terminateOld") is True and self._keys:
                    self._thread(lambda s=secret: self._revoke_after_refresh(s), "revoke").start()

    def _revoke_after_refresh(self, secret: SecretState) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and secret.worker_running:
            time.sleep(0.05)
        for listener in self._revoke_listeners:
            try:
                listener(secret.name, str(secret.version_id))
            except Exception:
                log.exception("a revoked listener failed")

    def _reconcile(self) -> None:
        """HGETALL {P}:versions: refresh every secret whose broadcast version differs from ours;
        a secret seen in the hash before and gone now means lost state: one AWSCURRENT read."""
        self._count("reconciles")
        entries = self.redis_client().hgetall(self._versions_key)
        skipped = False
        present = set()
        for field, raw in entries.items():
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            try:
                msg = verify(text, self._keys, check_age=False)  # old by design: signature only
            except InvalidMessage as error:
                skipped = True
                log.warning("versions entry skipped: %s", error.code)
                continue
            for secret in self._secrets.values():
                if not secret_matches(secret.spec.secret_id, secret.arn, msg["secretArn"]):
                    continue
                present.add(secret.name)
                secret.seen_in_hash = True
                version_id = msg.get("versionId")
                if version_id:
                    secret.announced.append(version_id)
                    if version_id != secret.version_id:
                        self._request_refresh(secret, version_id, "reconcile", msg.get("publishedAt"))
                elif parse_iso_datetime(msg["publishedAt"]).timestamp() > secret.fetched_at:
                    self._request_refresh(secret, None, "reconcile")
        if skipped:
            return
        for secret in self._secrets.values():
            if secret.seen_in_hash and secret.name not in present:
                secret.seen_in_hash = False
                self._count("versions_state_lost")
                log.warning("VERSIONS_STATE_LOST %s: the versions hash lost its entry; reading AWSCURRENT", secret.name)
                threading.Timer(random.uniform(0, 1.0), self._request_refresh, args=(secret, None, "reconcile")).start()

    def _forked(self) -> None:
        """In a forked child: the parent's threads do not exist here. Keep the values (the
        child reconciles on subscribe), renew everything else; the next use starts again."""
        for secret in self._secrets.values():
            secret.reset_locks()
        self._start_lock = threading.Lock()
        self._counts_lock = threading.Lock()
        self._client = None  # boto3 clients are not fork-safe: the factory builds a new one
        self._threads = []
        self._pid = None
        self.subscribed = False
        self._stop = threading.Event()
        if self._presence is not None:
            self._presence = PresenceWriter(self, self._presence.heartbeat_s, self._presence.ttl_s)
