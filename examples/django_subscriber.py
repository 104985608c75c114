#!/usr/bin/env python3
"""A Django app whose PostgreSQL, Redis cache and SES SMTP credentials follow rotations, with the
rotation_relay package (python/ in this repository; docs/python-subscriber.md is the how-to).

SETTINGS below is all an app adds: the database ENGINE, the cache BACKEND, the EMAIL_BACKEND and
a ROTATION_RELAY block naming the secrets. The rest of this file is a stand-in for the app's
traffic: it runs database queries, cache set/get and send_mail in loops and prints one JSON line
per event on stdout: `ready`, `stats` every second, `rotated` when a new version is in place,
and `summary` on SIGTERM or Ctrl-C (the lines `npm run demo -- --django` reads; it runs this file
as one app instance beside the Node ones).

    PYTHONPATH=python /usr/bin/python3 examples/django_subscriber.py     # see --help for the environment

Needs Django, psycopg2, redis-py, django-redis and boto3 (on Debian: apt-get install
python3-django python3-psycopg2 python3-redis python3-django-redis python3-boto3).
"""
import json
import os
import signal
import sys
import threading
import time
from collections import deque

ENVIRONMENT = {
    "APP_DB_HOST": "PostgreSQL host", "APP_DB_PORT": "PostgreSQL port",
    "APP_CACHE_REDIS_URL": "the app's Redis (redis://host:port/0)",
    "APP_SMTP_HOST": "SMTP host", "APP_SMTP_PORT": "SMTP port",
    "APP_DB_SECRET": "the database secret (name or ARN; RDS format)",
    "APP_CACHE_SECRET": "the Redis secret", "APP_MAIL_SECRET": "the SMTP secret",
    "ROTATION_RELAY_REDIS_URL": "the invalidation bus", "ROTATION_RELAY_SIGNING_KEYS": "the worker's signing keys",
}
OPTIONAL = {"APP_INSTANCE_ID": "the name in the JSON lines (default: the cache's instance id)",
            "AWS_REGION / AWS_ENDPOINT_URL / AWS credentials": "as boto3 reads them"}


def settings(env):
    """What the app's settings.py would contain (docs/python-subscriber.md, "Settings")."""
    return dict(
        DATABASES={"default": {
            "ENGINE": "rotation_relay.django.postgresql",
            "HOST": env["APP_DB_HOST"], "PORT": env["APP_DB_PORT"], "NAME": "postgres",
            "USER": "", "PASSWORD": "",  # from the secret, for every new connection
            "CONN_MAX_AGE": 0,
            "OPTIONS": {"ROTATION_SECRET": "db", "connect_timeout": 5},
        }},
        CACHES={"default": {
            "BACKEND": "rotation_relay.django.cache.RedisCache",
            "LOCATION": env["APP_CACHE_REDIS_URL"],
            "OPTIONS": {"ROTATION_SECRET": "cache", "SOCKET_CONNECT_TIMEOUT": 5, "SOCKET_TIMEOUT": 5},
        }},
        EMAIL_BACKEND="rotation_relay.django.email.EmailBackend",
        EMAIL_HOST=env["APP_SMTP_HOST"], EMAIL_PORT=int(env["APP_SMTP_PORT"]), EMAIL_TIMEOUT=5,
        EMAIL_ROTATION_SECRET="mail",
        # REDIS_URL and SIGNING_KEYS come from ROTATION_RELAY_REDIS_URL / ROTATION_RELAY_SIGNING_KEYS.
        ROTATION_RELAY={"SECRETS": {"db": env["APP_DB_SECRET"], "cache": env["APP_CACHE_SECRET"], "mail": env["APP_MAIL_SECRET"]}},
        INSTALLED_APPS=[], USE_TZ=True, SECRET_KEY="example-only",
    )


class Load:
    """One thread per kind of operation; counts, bounded latencies and the first failures."""

    PAUSE_S = {"pg": 0.01, "redis": 0.01, "smtp": 0.05}  # a busy web app, like the demo's Node instances

    def __init__(self, stop):
        self.stop = stop
        self.ok = dict.fromkeys(self.PAUSE_S, 0)
        self.failed = dict.fromkeys(self.PAUSE_S, 0)
        self.failures = {kind: [] for kind in self.PAUSE_S}
        self.latency_ms = {kind: deque(maxlen=10_000) for kind in self.PAUSE_S}  # for p99, bounded however long it runs
        self.max_ms = dict.fromkeys(self.PAUSE_S, 0.0)

    def run(self, kind, operation):
        from django.db import close_old_connections

        n = 0
        while not self.stop.is_set():
            n += 1
            close_old_connections()  # a request starts: with CONN_MAX_AGE 0 every request logs in anew
            started = time.monotonic()
            try:
                operation(n)
                self.ok[kind] += 1
            except Exception as error:  # the app's view would fail: counted and shown, never a value
                self.failed[kind] += 1
                if len(self.failures[kind]) < 5:
                    self.failures[kind].append({"message": f"{type(error).__name__}: {str(error)[:200]}", "at": int(time.time() * 1000)})
            finally:
                elapsed = (time.monotonic() - started) * 1000
                self.latency_ms[kind].append(elapsed)
                self.max_ms[kind] = max(self.max_ms[kind], elapsed)
                close_old_connections()  # the request ends
            self.stop.wait(self.PAUSE_S[kind])

    def counts(self):
        return {kind: {"ok": self.ok[kind], "failed": self.failed[kind]} for kind in self.PAUSE_S}

    def results(self):
        def p99(values):
            ordered = sorted(values)
            return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1) if ordered else 0

        return {kind: {"operations": self.ok[kind] + self.failed[kind], "failed": self.failed[kind], "failures": self.failures[kind],
                       "p99LatencyMs": p99(self.latency_ms[kind]), "maxLatencyMs": round(self.max_ms[kind], 1)} for kind in self.PAUSE_S}


def main():
    if "--help" in sys.argv or "-h" in sys.argv:
        print(__doc__.strip() + "\n\nEnvironment:\n" + "\n".join(f"  {k:<28} {v}" for k, v in {**ENVIRONMENT, **OPTIONAL}.items()))
        return 0
    missing = [name for name in ENVIRONMENT if not os.environ.get(name)]
    if missing:
        print(f"django_subscriber.py: set {', '.join(missing)} (--help says what each is)", file=sys.stderr)
        return 2

    import django
    from django.conf import settings as django_settings

    django_settings.configure(**settings(os.environ))
    django.setup()
    from django.core.cache import cache as django_cache
    from django.core.mail import send_mail
    from django.db import connection

    from rotation_relay.django import get_cache

    cache = get_cache()  # reads the three secrets, subscribes, reports presence
    instance_id = os.environ.get("APP_INSTANCE_ID") or cache.instance_id
    out = threading.Lock()

    def emit(record):
        with out:
            print(json.dumps({**record, "instanceId": instance_id}, separators=(",", ":")), flush=True)

    def versions():
        return {name: state["version_id"] for name, state in cache.status()["secrets"].items()}

    def auth_recoveries():
        return cache.status()["counts"]["auth_recoveries"]

    cache.on_rotated(lambda name, version, trigger: emit({"type": "rotated", "name": name, "versionId": version, "trigger": trigger, "at": int(time.time() * 1000)}))

    def pg(n):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)

    def redis_op(n):
        django_cache.set(f"{instance_id}:k", n, 60)
        assert django_cache.get(f"{instance_id}:k") == n

    def smtp(n):
        assert send_mail(f"{instance_id} {n}", "hi", "app@example.test", ["ops@example.test"]) == 1

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    load = Load(stop)
    threads = [threading.Thread(target=load.run, args=(kind, op), name=f"load-{kind}", daemon=True)
               for kind, op in (("pg", pg), ("redis", redis_op), ("smtp", smtp))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20  # ready once subscribed: from then on a broadcast reaches this process
    while not cache.status()["pubsub"]["connected"] and time.monotonic() < deadline and not stop.is_set():
        stop.wait(0.02)
    emit({"type": "ready", "versions": versions()})
    while not stop.wait(1.0):
        emit({"type": "stats", "versions": versions(), "counts": load.counts(), "authRecoveries": auth_recoveries()})
    deadline = time.monotonic() + 8  # above every socket timeout (5 s): an operation in flight finishes
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    counts = cache.status()["counts"]
    emit({"type": "summary", "versions": versions(), "results": load.results(),
          "status": {"counts": {"authRecoveries": counts["auth_recoveries"], "missedByEvents": counts["missed_by_events"]}}})
    cache.stop()  # deregisters: `rotation-relay status` no longer counts this process
    return 1 if any(thread.is_alive() for thread in threads) else 0


if __name__ == "__main__":
    sys.exit(main())
