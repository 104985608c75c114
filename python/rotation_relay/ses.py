"""Amazon SES SMTP password from an IAM secret access key, as src/sdk/mailer/ses-smtp-password.ts
(SigV4-based, version byte 0x04). The password is region-specific."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any, Dict, Optional, Tuple

_REGION = re.compile(r"^[a-z]{2}(?:-(?:gov|iso|isob|isof|isoe))?-[a-z]+-\d{1,2}$")
_SES_HOST = re.compile(r"^email-smtp(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$", re.I)


class SesSmtpPasswordError(ValueError):
    code = "SES_SMTP_PASSWORD"


def derive_ses_smtp_password(secret_access_key: str, region: str) -> str:
    if not isinstance(secret_access_key, str) or not secret_access_key:
        raise SesSmtpPasswordError("SES SMTP password: the secret access key is empty")
    if not isinstance(region, str) or not _REGION.match(region):
        raise SesSmtpPasswordError("SES SMTP password: not an AWS region name like \"us-east-1\"")
    key = hmac.new(f"AWS4{secret_access_key}".encode("utf-8"), b"11111111", hashlib.sha256).digest()
    for message in (region, "ses", "aws4_request", "SendRawEmail"):
        key = hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(b"\x04" + key).decode("ascii")


def smtp_login(value: Any, host: Optional[str] = None, ses_region: Optional[str] = None) -> Tuple[str, str]:
    """(user, password) from `{username, password}` or `{accessKeyId, secretAccessKey, region?}`;
    the region comes from the secret, then `ses_region`, then an SES host name."""
    if not isinstance(value, dict):
        raise SesSmtpPasswordError("mail secret: expected a JSON object")
    if "accessKeyId" in value or "secretAccessKey" in value:
        region = value.get("region") or ses_region
        if not region and host:
            match = _SES_HOST.match(host)
            region = match.group(1) if match else None
        if not region:
            raise SesSmtpPasswordError("mail secret: an IAM key pair needs a region (secret, SES_REGION or the SES host)")
        return str(value["accessKeyId"]), derive_ses_smtp_password(str(value.get("secretAccessKey", "")), region)
    return str(value["username"]), str(value["password"])
