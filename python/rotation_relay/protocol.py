"""Protocol v1 of docs/protocol.md: message checks, canonical string, signatures (sig and the
signed extension xsig), signing keys, max age, secret matching and Redis names.

Standard library only, so it can be checked on a bare python3.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

PROTOCOL_VERSION = 1
MAX_MESSAGE_LENGTH = 64 * 1024
DEFAULT_MAX_AGE_S = 300  # ROTATION_RELAY_MAX_AGE_SECONDS
MAX_CLOCK_SKEW_S = 30
MIN_KEY_BYTES = 32
DEFAULT_KEY_PREFIX = "rotation-relay"  # ROTATION_RELAY_KEY_PREFIX

# The nine lines of the canonical string, in order; `v` is written as "1".
# Signed extensions covered by `xsig`, in the order of their lines.
EXTENSION_FIELDS = ("terminateOld",)
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
    for field in ("sig", "xsig"):
        if field in msg and not isinstance(msg[field], str):
            raise InvalidMessage("malformed", f"{field} must be a string")
    if "terminateOld" in msg and msg["terminateOld"] is not True:
        raise InvalidMessage("malformed", "terminateOld must be true when present")
    return msg


def canonical_string(msg: Dict[str, Any]) -> bytes:
    """The signed text: "1", then the fields of CANONICAL_FIELDS ("" for an absent versionId),
    joined by LF, UTF-8, no trailing newline. Times exactly as in the message."""
    values = [str(PROTOCOL_VERSION)] + [msg.get(f, "") if f == "versionId" else msg[f] for f in CANONICAL_FIELDS]
    return "\n".join(values).encode("utf-8")


def extended_canonical_string(msg: Dict[str, Any]) -> bytes:
    """What `xsig` signs: the canonical string, then one `\nname=value` line per signed
    extension present, in EXTENSION_FIELDS order (docs/protocol.md, "Signed extensions")."""
    lines = [canonical_string(msg)]
    for field in EXTENSION_FIELDS:
        if field in msg:
            lines.append(f"{field}={'true' if msg[field] is True else msg[field]}".encode("utf-8"))
    return b"\n".join(lines)


def _mac(key: bytes, text: bytes) -> str:
    mac = hmac.new(key, text, hashlib.sha256).digest()
    return "v1=" + base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def sign(msg: Dict[str, Any], key: bytes) -> str:
    """`v1=` + base64url(HMAC-SHA256(key, canonical)) without padding: 43 characters."""
    return _mac(key, canonical_string(msg))


def sign_extensions(msg: Dict[str, Any], key: bytes) -> str:
    """The `xsig` of a message carrying a signed extension (`terminateOld`)."""
    return _mac(key, extended_canonical_string(msg))


def signed(msg: Dict[str, Any], key: bytes) -> Dict[str, Any]:
    """A copy of `msg` with `sig` (and `xsig` when an extension field is present), as the worker
    signs: for tests and tools; only the worker publishes."""
    out = {k: v for k, v in msg.items() if k not in ("sig", "xsig")}
    out["sig"] = sign(out, key)
    if any(field in out for field in EXTENSION_FIELDS):
        out["xsig"] = sign_extensions(out, key)
    return out


def _matches_any(keys: List[bytes], text: bytes, sig: str) -> bool:
    ok = False
    for key in keys:  # every key, no early exit: constant time over the list
        ok |= hmac.compare_digest(_mac(key, text).encode("ascii"), sig.encode("ascii"))
    return ok


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
        # Any key of the list: that is how the key itself rotates.
        if not _matches_any(keys, canonical_string(msg), sig):
            raise InvalidMessage("bad-signature", "sig matches none of the configured keys")
        if "xsig" in msg or any(field in msg for field in EXTENSION_FIELDS):
            xsig = msg.get("xsig")
            if not isinstance(xsig, str) or not _SIG.match(xsig) or not any(field in msg for field in EXTENSION_FIELDS):
                raise InvalidMessage("bad-signature", "an extension field or xsig without the other")
            if not _matches_any(keys, extended_canonical_string(msg), xsig):
                raise InvalidMessage("bad-signature", "xsig matches none of the configured keys")
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

# Vector 3: vector 1 with "terminateOld": true; sig unchanged, xsig over the extra line.
TEST_VECTOR_3_XSIG = "v1=BPndIb-a4FjdPGISpQvujvmS5K5bJKqUcq5qv_RFaGg"


def presence_keys(prefix: str, instance_id: str) -> Tuple[str, str]:
    """`{P}:instances` (sorted set) and `{P}:instance:<id>` (hash), docs/protocol.md, "Presence"."""
    return f"{{{prefix}}}:instances", f"{{{prefix}}}:instance:{instance_id}"
