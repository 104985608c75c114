"""Fixtures for the suite. The services and the worker are started by
test/integration/python/python-suite.test.ts, which passes their addresses here (RR_* and the
usual AWS_* / ROTATION_RELAY_* variables) and performs real rotations on request."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from typing import Any, Callable, Dict, List

import pytest

REQUIRED = ("RR_CONTROL_URL", "ROTATION_RELAY_REDIS_URL", "AWS_ENDPOINT_URL", "RR_SECRET_DB", "RR_PROTOCOL_DOC")


def pytest_collection_modifyitems(config: Any, items: List[Any]) -> None:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:  # run through the TypeScript driver, never silently against nothing
        raise pytest.UsageError(f"run through `npx vitest run test/integration/python/python-suite.test.ts` (missing {', '.join(missing)})")


class ControlError(RuntimeError):
    """The driver's control endpoint answered with an error: its status and body (the driver's
    error class and message, never a secret value)."""

    code = "CONTROL_FAILED"


def control(path: str, payload: Dict[str, Any], timeout: float = 60) -> Dict[str, Any]:
    request = urllib.request.Request(os.environ["RR_CONTROL_URL"] + path, data=json.dumps(payload).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")[:4000]
        print(f"control {path} {json.dumps(payload)}: HTTP {error.code}: {body}", flush=True)
        raise ControlError(f"control {path}: HTTP {error.code}: {body}") from error


@pytest.fixture
def rotate() -> Callable[..., Dict[str, Any]]:
    """A real rotation of db / cache / mail (RotationTargets, events through SQS to the worker);
    returns once `instances` live instances hold the new version (waitConverged)."""
    return lambda kind, round=0, instances=1: control("/rotate", {"kind": kind, "round": round, "instances": instances})


@pytest.fixture
def cli() -> Callable[[List[str]], Dict[str, Any]]:
    return lambda args: control("/cli", {"args": args})


@pytest.fixture
def secrets_client() -> Any:
    import boto3

    return boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL"])


@pytest.fixture
def bus() -> Any:
    import redis

    client = redis.Redis.from_url(os.environ["ROTATION_RELAY_REDIS_URL"], decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def signing_keys() -> List[bytes]:
    from rotation_relay.protocol import parse_signing_keys

    return parse_signing_keys(os.environ["ROTATION_RELAY_SIGNING_KEYS"])


@pytest.fixture
def make_cache(signing_keys: List[bytes]) -> Callable[..., Any]:
    """CredentialCache instances stopped (deregistered) after the test, so that later
    wait-converged checks see no unaccounted subscriber."""
    from rotation_relay.cache import CredentialCache

    made: List[Any] = []

    def make(secrets: Dict[str, Any], **options: Any) -> Any:
        options.setdefault("redis_url", os.environ["ROTATION_RELAY_REDIS_URL"])
        options.setdefault("signing_keys", signing_keys)
        cache = CredentialCache(secrets, **options)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.stop()


@pytest.fixture
def own_secret(secrets_client: Any) -> Callable[[Dict[str, Any]], Dict[str, str]]:
    """A secret of the test's own (not one the rotations use)."""

    def create(value: Dict[str, Any]) -> Dict[str, str]:
        created = secrets_client.create_secret(Name=f"py/own-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(value))
        return {"arn": created["ARN"], "name": created["Name"], "version": created["VersionId"]}

    return create
