"""The self-test of the protocol module: the test vectors of docs/protocol.md and every
verification rule, standard library only (`python3 -m rotation_relay.selftest`)."""
from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Any, List

from .protocol import (
    DEFAULT_MAX_AGE_S,
    MAX_CLOCK_SKEW_S,
    MAX_MESSAGE_LENGTH,
    TEST_VECTOR_3_XSIG,
    TEST_VECTOR_KEY,
    TEST_VECTORS,
    InvalidMessage,
    parse_iso_datetime,
    parse_signing_keys,
    secret_matches,
    sign,
    signed,
    verify,
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
    signed3 = signed({**TEST_VECTORS[0][0], "terminateOld": True}, TEST_VECTOR_KEY)
    check(f"vector 3: xsig = {TEST_VECTOR_3_XSIG}", signed3["xsig"] == TEST_VECTOR_3_XSIG and signed3["sig"] == TEST_VECTORS[0][1])
    published = parse_iso_datetime(fields["publishedAt"])
    check("vector 3: verifies", code_of(json.dumps(signed3), keys, now=published) == "accepted")
    dropped = {k: v for k, v in signed3.items() if k != "xsig"}
    check("vector 3 without xsig: bad-signature", code_of(json.dumps(dropped), keys, now=published) == "bad-signature")
    added = {k: v for k, v in signed3.items() if k != "terminateOld"}
    check("vector 3 with xsig but no terminateOld: bad-signature", code_of(json.dumps(added), keys, now=published) == "bad-signature")
    return done


def main() -> int:
    for line in self_test():
        print(line)
    print("self-test passed: rotation_relay signs and verifies as docs/protocol.md specifies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
