"""The credential cache against real redis-server, moto_server and the TypeScript worker."""
import json
import os
import socket
import time

import pytest

from rotation_relay.cache import SecretReadError, SigningKeysRequired
from rotation_relay.presence import RUNTIME, SDK


def wait_for(predicate, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_signing_keys_required_with_a_bus() -> None:
    from rotation_relay.cache import CredentialCache

    with pytest.raises(SigningKeysRequired):
        CredentialCache({"db": "x"}, redis_url=os.environ["ROTATION_RELAY_REDIS_URL"], signing_keys=[])


def test_presence_and_status_exactly_as_documented(make_cache, bus) -> None:
    cache = make_cache({"cache": os.environ["RR_SECRET_CACHE"]}, heartbeat_interval_s=0.5, presence_ttl_s=2).start()
    wait_for(lambda: cache.status()["pubsub"]["connected"], "the subscription")
    key = "{rotation-relay}:instance:" + cache.instance_id
    wait_for(lambda: bus.hget(key, "subscribed") == "1", "presence with subscribed=1")
    fields = bus.hgetall(key)
    version, value = cache.current("cache")
    ack = "ack:" + os.environ["RR_SECRET_CACHE"]
    assert set(fields) == {"id", "host", "pid", "startedAt", "sdk", "runtime", "heartbeatAt", "ttlMs", "heartbeatIntervalMs", "subscribed", ack}
    assert fields["id"] == cache.instance_id and fields["host"] == socket.gethostname() and fields["pid"] == str(os.getpid())
    assert fields["sdk"] == SDK and fields["runtime"] == RUNTIME and fields["ttlMs"] == "2000" and fields["heartbeatIntervalMs"] == "500"
    assert fields[ack].rsplit("@", 1)[0] == version
    assert 0 < bus.pttl(key) <= 2000
    assert bus.zscore("{rotation-relay}:instances", cache.instance_id) is not None
    names = [c.get("name") for c in bus.client_list(_type="pubsub")]
    assert f"rotation-relay:listener:{cache.instance_id}" in names
    status = json.dumps(cache.status())
    assert value["password"] not in status
    assert cache.status()["counts"]["reconciles"] >= 1  # subscribe, then reconcile
    cache.stop()
    assert not bus.exists(key) and bus.zscore("{rotation-relay}:instances", cache.instance_id) is None  # clean stop


def test_invalidation_from_the_worker_single_flight(make_cache, rotate, cli) -> None:
    cache = make_cache({"cache": os.environ["RR_SECRET_CACHE"]}).start()
    wait_for(lambda: cache.status()["pubsub"]["connected"], "the subscription")
    rotated = []
    cache.on_rotated(lambda name, version, trigger: rotated.append((version, trigger)))
    reads = cache.counts["reads"]
    result = rotate("cache", round=0, instances=1)  # returns once waitConverged saw our ack
    assert cache.current("cache")[0] == result["newVersion"]
    assert rotated == [(result["newVersion"], "invalidation")]
    assert cache.counts["reads"] - reads == 1  # 3 events, 1 broadcast, 1 read by VersionId
    status = cli(["status"])
    assert status["code"] == 0 and "1 live instance" in status["stdout"], status  # this process, counted


def test_poll_fallback_without_a_bus(make_cache, own_secret, secrets_client) -> None:
    secret = own_secret({"username": "u", "password": "p1"})
    cache = make_cache({"s": secret["arn"]}, redis_url=None, poll_interval_s=0.2).start()
    put = secrets_client.put_secret_value(SecretId=secret["arn"], SecretString=json.dumps({"username": "u", "password": "p2"}))
    wait_for(lambda: cache.current("s")[0] == put["VersionId"], "the poll to find the new version", 5)
    assert cache.current("s")[1]["password"] == "p2"


def test_env_fallback_and_failure_naming_the_secret(make_cache, monkeypatch) -> None:
    monkeypatch.setenv("RR_TEST_USER", "envuser")
    monkeypatch.setenv("RR_TEST_PASSWORD", "envpass")
    cache = make_cache({"db": {"secret_id": "py/does-not-exist", "env_fallback": {"username": "RR_TEST_USER", "password": "RR_TEST_PASSWORD"}}},
                       redis_url=None, backoff_min_s=5)
    cache.start()
    status = cache.status()["secrets"]["db"]
    assert status["source"] == "env-fallback" and status["last_error"] == "ResourceNotFoundException"
    assert cache.credentials("db")[1] == {"username": "envuser", "password": "envpass"}
    assert "envpass" not in json.dumps(cache.status())
    with pytest.raises(SecretReadError, match="py/does-not-exist"):
        make_cache({"db": "py/does-not-exist"}, redis_url=None).start()


def test_auth_failure_path_refresh_then_pending(make_cache, own_secret, secrets_client) -> None:
    secret = own_secret({"username": "u", "password": "old"})
    cache = make_cache({"s": secret["arn"]}, redis_url=None).start()
    assert cache.report_auth_failure("s") is False  # AWSCURRENT unchanged
    pending = secrets_client.put_secret_value(SecretId=secret["arn"], SecretString=json.dumps({"username": "u", "password": "new"}),
                                              VersionStages=["AWSPENDING"])
    assert cache.use_pending("s") is True
    assert cache.credentials("s") == (pending["VersionId"], {"username": "u", "password": "new"})
    assert cache.current("s")[1]["password"] == "old"
    secrets_client.update_secret_version_stage(SecretId=secret["arn"], VersionStage="AWSCURRENT", MoveToVersionId=pending["VersionId"],
                                               RemoveFromVersionId=secret["version"])
    time.sleep(1.05)  # past the one-read-a-second bound of the auth path (a bound, not a sync)
    assert cache.report_auth_failure("s") is True
    assert cache.status()["secrets"]["s"]["pending_version_id"] is None


def test_a_broadcast_naming_the_pending_version_installs_it_without_a_read(make_cache, own_secret, secrets_client, bus, signing_keys) -> None:
    """A single-user rotation costs 2 reads, as on Node: AWSCURRENT after the refused login, then
    AWSPENDING; the broadcast of that version (signed here as the worker signs) needs none."""
    import uuid
    from datetime import datetime, timezone

    from rotation_relay.protocol import signed

    secret = own_secret({"username": "u", "password": "old"})
    cache = make_cache({"s": secret["arn"]}).start()
    wait_for(lambda: cache.status()["pubsub"]["connected"], "the subscription")
    rotated = []
    cache.on_rotated(lambda name, version, trigger: rotated.append((version, trigger)))
    reads = cache.counts["reads"]
    assert cache.report_auth_failure("s") is False  # read 1: AWSCURRENT unchanged (setSecret already ran)
    pending = secrets_client.put_secret_value(SecretId=secret["arn"], SecretString=json.dumps({"username": "u", "password": "new"}),
                                              VersionStages=["AWSPENDING"])
    assert cache.use_pending("s") is True  # read 2: AWSPENDING, used by new connections from now on
    secrets_client.update_secret_version_stage(SecretId=secret["arn"], VersionStage="AWSCURRENT", MoveToVersionId=pending["VersionId"],
                                               RemoveFromVersionId=secret["version"])  # finishSecret
    now = datetime.now(timezone.utc)
    message = {"v": 1, "id": str(uuid.uuid4()), "secretArn": secret["arn"], "secretName": secret["name"], "versionId": pending["VersionId"],
               "reason": "AWSCURRENT moved", "eventId": "py-pending", "eventTime": now.isoformat().replace("+00:00", "Z"),
               "publishedAt": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"}
    assert bus.publish("{rotation-relay}:invalidations", json.dumps(signed(message, signing_keys[0]))) >= 1

    wait_for(lambda: cache.current("s")[0] == pending["VersionId"], "the pending version as AWSCURRENT")
    assert cache.current("s")[1]["password"] == "new"
    assert rotated == [(pending["VersionId"], "invalidation")]
    assert cache.counts["reads"] - reads == 2
    assert cache.status()["secrets"]["s"]["pending_version_id"] is None


def test_listener_starts_after_fork(make_cache, bus) -> None:
    cache = make_cache({"cache": os.environ["RR_SECRET_CACHE"]}).start()
    wait_for(lambda: cache.status()["pubsub"]["connected"], "the parent's subscription")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: like a gunicorn worker after the master preloaded the app
        try:
            cache.credentials("cache")
            deadline = time.monotonic() + 10
            while not cache.status()["pubsub"]["connected"] and time.monotonic() < deadline:
                time.sleep(0.02)
            os.write(write_end, json.dumps({"id": cache.instance_id, "status": cache.status()["pubsub"]["connected"]}).encode())
            cache.stop()
        finally:
            os._exit(0)
    os.close(write_end)
    child = json.loads(os.read(read_end, 4096))
    os.waitpid(pid, 0)
    assert child["status"] is True and child["id"] != cache.instance_id and f":{pid}:" in child["id"]


def test_auth_failure_bound_does_not_outlive_a_rotation(make_cache, own_secret, secrets_client) -> None:
    """Two single-user rotations less than a second apart: the second window's failed logins
    must read AWSPENDING again, not reuse the first window's answers (the load test's db#1)."""
    secret = own_secret({"username": "u", "password": "v0"})
    cache = make_cache({"s": secret["arn"]}, redis_url=None).start()
    current = secret["version"]
    started = time.monotonic()
    for password in ("v1", "v2"):
        assert cache.report_auth_failure("s") is False
        pending = secrets_client.put_secret_value(SecretId=secret["arn"], SecretString=json.dumps({"username": "u", "password": password}),
                                                  VersionStages=["AWSPENDING"])
        assert cache.use_pending("s") is True, password
        assert cache.credentials("s") == (pending["VersionId"], {"username": "u", "password": password})
        secrets_client.update_secret_version_stage(SecretId=secret["arn"], VersionStage="AWSCURRENT", MoveToVersionId=pending["VersionId"],
                                                   RemoveFromVersionId=current)
        assert cache.refresh("s") is True  # what the broadcast does
        assert cache.status()["secrets"]["s"]["pending_version_id"] is None
        current = pending["VersionId"]
    assert time.monotonic() - started < 1.0  # so the second window fell inside the first's one-second bound


def test_a_login_refused_after_the_switch_it_began_before_retries_at_once(make_cache, own_secret, secrets_client) -> None:
    """A login that began with the old version and was refused after a broadcast switched the
    cache: AWSCURRENT as held is already newer, so the answer is "retry", without a read."""
    secret = own_secret({"username": "u", "password": "old"})
    cache = make_cache({"s": secret["arn"]}, redis_url=None).start()
    put = secrets_client.put_secret_value(SecretId=secret["arn"], SecretString=json.dumps({"username": "u", "password": "new"}))
    assert cache.refresh("s") is True  # the broadcast, while the login was in flight
    reads = cache.counts["reads"]
    assert cache.report_auth_failure("s", failed_version=secret["version"]) is True
    assert cache.counts["reads"] == reads
    assert cache.report_auth_failure("s", failed_version=put["VersionId"]) is False  # refused with what we hold: not a rotation
