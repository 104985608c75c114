import json
import os

from rotation_relay import selftest
from rotation_relay.protocol import (
    TEST_VECTOR_3_XSIG, TEST_VECTOR_KEY, TEST_VECTORS, InvalidMessage, parse_iso_datetime, sign, signed, verify,
)


def test_selftest_passes() -> None:
    lines = selftest.self_test()
    assert len(lines) >= 30


def test_documented_vectors() -> None:
    # The driver passes the checkout's docs/protocol.md: the tests run from a copy of this folder.
    doc = open(os.environ["RR_PROTOCOL_DOC"], encoding="utf-8").read()
    for fields, expected in TEST_VECTORS:
        assert expected in doc
        assert sign(fields, TEST_VECTOR_KEY) == expected
    assert TEST_VECTOR_3_XSIG in doc
    assert signed({**TEST_VECTORS[0][0], "terminateOld": True}, TEST_VECTOR_KEY)["xsig"] == TEST_VECTOR_3_XSIG


def test_verification_codes_in_order() -> None:
    fields, sig = TEST_VECTORS[0]
    now = parse_iso_datetime(fields["publishedAt"])
    raw = json.dumps({**fields, "sig": sig})
    assert verify(raw, [b"x" * 32, TEST_VECTOR_KEY], now=now)["versionId"] == fields["versionId"]
    for bad, code in (("{", "malformed"), (json.dumps(fields), "unsigned"), (json.dumps({**fields, "sig": "v1=abc"}), "bad-signature")):
        try:
            verify(bad, [TEST_VECTOR_KEY], now=now)
            raise AssertionError("accepted")
        except InvalidMessage as error:
            assert error.code == code
