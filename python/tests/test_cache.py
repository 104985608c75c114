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


def broadcast(bus, keys, secret, version_id, published=None):
    """What the worker publishes for `version_id` of `secret` (own_secret's dict), signed with
    `keys[0]`; `published` (a UTC datetime) defaults to now. Returns the receivers."""
    import uuid
    from datetime import datetime, timezone

    from rotation_relay.protocol import signed

    at = published or datetime.now(timezone.utc)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    message = {"v": 1, "id": str(uuid.uuid4()), "secretArn": secret["arn"], "secretName": secret["name"], "versionId": version_id,
               "reason": "AWSCURRENT moved", "eventId": str(uuid.uuid4()), "eventTime": stamp, "publishedAt": stamp}
    return bus.publish("{rotation-relay}:invalidations", json.dumps(signed(message, keys[0])))


def test_a_broadcast_naming_the_pending_version_installs_it_without_a_read(make_cache, own_secret, secrets_client, bus, signing_keys) -> None:
    """A single-user rotation costs 2 reads, as on Node: AWSCURRENT after the refused login, then
    AWSPENDING; the broadcast of that version (signed here as the worker signs) needs none."""
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
    assert broadcast(bus, signing_keys, secret, pending["VersionId"]) >= 1

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


def test_a_stale_message_costs_two_reads_once_and_nothing_when_repeated(make_cache, own_secret, secrets_client, bus, signing_keys) -> None:
    """docs/protocol.md, Bounds: a message naming an old version (a replay, a stale message) costs
    its named read and one AWSCURRENT read; the version is remembered, so another message naming
    it, published before that read, costs none; one published after it is read again (a genuine
    roll-back may follow)."""
    from datetime import datetime, timedelta, timezone

    secret = own_secret({"username": "u", "password": "v1"})
    secrets_client.put_secret_value(SecretId=secret["arn"], SecretString=json.dumps({"username": "u", "password": "v2"}))  # v1: AWSPREVIOUS
    cache = make_cache({"s": secret["arn"]}).start()
    wait_for(lambda: cache.status()["pubsub"]["connected"], "the subscription")
    reads = cache.counts["reads"]

    broadcast(bus, signing_keys, secret, secret["version"])
    wait_for(lambda: cache.counts["reads"] - reads == 2 and not cache._secrets["s"].worker_running, "the two reads")
    broadcast(bus, signing_keys, secret, secret["version"], published=datetime.now(timezone.utc) - timedelta(seconds=60))
    wait_for(lambda: cache.counts["stale_skipped"] == 1, "the repeat to be skipped")
    assert cache.counts["reads"] - reads == 2
    broadcast(bus, signing_keys, secret, secret["version"])  # published after the read: read again
    wait_for(lambda: cache.counts["reads"] - reads == 4, "the later message's reads")
    assert cache.current("s")[1]["password"] == "v2"  # never the old credential


def test_a_flood_of_messages_costs_paced_reads_and_a_genuine_rotation_gets_through(make_cache, own_secret, secrets_client, bus, signing_keys) -> None:
    """Whoever can publish decides how many messages arrive; what they cost must not grow with
    their number: 300 messages naming versions that do not exist, over about 3 s, cost reads at
    the pace of one refresh per 0.5 s, and a real rotation announced in the middle is held
    within a second of its broadcast."""
    import uuid

    secret = own_secret({"username": "u", "password": "v1"})
    cache = make_cache({"s": secret["arn"]}).start()
    wait_for(lambda: cache.status()["pubsub"]["connected"], "the subscription")
    held_at = {}
    cache.on_rotated(lambda name, version, trigger: held_at.setdefault(version, time.monotonic()))
    reads = cache.counts["reads"]
    started = time.monotonic()
    genuine, announced_at = None, None
    for n in range(300):
        broadcast(bus, signing_keys, secret, str(uuid.uuid4()))
        if n == 150:
            genuine = secrets_client.put_secret_value(SecretId=secret["arn"], SecretString=json.dumps({"username": "u", "password": "v2"}))["VersionId"]
            broadcast(bus, signing_keys, secret, genuine)
            announced_at = time.monotonic()
        time.sleep(0.01)  # the flood's own pace, not a synchronisation
    wait_for(lambda: cache.current("s")[0] == genuine, "the genuine rotation", timeout=5)
    held_after = held_at[genuine] - announced_at
    wait_for(lambda: not cache._secrets["s"].worker_running, "the last paced refresh")
    elapsed = time.monotonic() - started
    spent = cache.counts["reads"] - reads
    print(f"flood: 300 messages in {elapsed:.1f} s cost {spent} reads, {cache.counts['refreshes_throttled']} throttled waits, {cache.counts['read_failures']} failed reads; "
          f"the genuine rotation held {held_after * 1000:.0f} ms after its broadcast", flush=True)
    assert spent <= 2 * (elapsed / 0.5 + 2)  # at most a named read and an AWSCURRENT read per paced refresh
    assert cache.counts["refreshes_throttled"] > 0
    assert held_after < 1.0
    assert cache.current("s")[1]["password"] == "v2"
