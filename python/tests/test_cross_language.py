"""Messages signed by the TypeScript worker's functions verify here, and messages signed here are
written for the driver to verify with verifyInvalidation (the other direction)."""
import json
import os
import uuid
from datetime import datetime, timezone

import pytest

from rotation_relay.protocol import InvalidMessage, signed, verify


def test_typescript_signed_messages_verify_in_python(signing_keys) -> None:
    messages = json.loads(os.environ["RR_TS_SIGNED"])
    assert len(messages) == 2
    names = [verify(raw, signing_keys, check_age=False)["secretName"] for raw in messages]
    assert names[0] and names[1]
    for raw in messages:
        with pytest.raises(InvalidMessage) as caught:
            verify(raw, [b"k" * 32], check_age=False)
        assert caught.value.code == "bad-signature"


def test_python_signed_messages_for_typescript(signing_keys) -> None:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{datetime.now(timezone.utc).microsecond // 1000:03d}Z"
    base = {
        "v": 1, "secretArn": os.environ["RR_SECRET_DB"], "secretName": os.environ["RR_SECRET_DB"].split(":secret:")[1][:-7], "reason": "signed in Python — réussie ✓",
        "eventTime": "2024-05-01T12:05:00+02:00", "publishedAt": now,
    }
    messages = [
        {**base, "id": str(uuid.uuid4()), "eventId": "py-1", "versionId": str(uuid.uuid4())},
        {**base, "id": str(uuid.uuid4()), "eventId": "py-2"},
        {**base, "id": str(uuid.uuid4()), "eventId": "py-3", "versionId": str(uuid.uuid4()), "terminateOld": True},
    ]
    out = [json.dumps(signed(m, signing_keys[0]), ensure_ascii=False) for m in messages]
    for raw in out:
        verify(raw, signing_keys)
    with open(os.environ["RR_PY_SIGNED_OUT"], "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
