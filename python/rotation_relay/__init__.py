"""rotation-relay subscriber for Python: credentials that follow AWS Secrets Manager rotations.

`rotation_relay.protocol` is standard library only; the cache imports redis-py and boto3 when it
connects. Django integration: `rotation_relay.django` (see docs/python-subscriber.md).
"""
from .protocol import InvalidMessage, parse_signing_keys, sign, verify  # noqa: F401

__version__ = "0.1.0"


def __getattr__(name: str):  # lazy: importing the package loads neither redis nor boto3
    if name in ("CredentialCache", "SecretReadError", "SigningKeysRequired"):
        from . import cache

        return getattr(cache, name)
    if name == "SecretSpec":
        from .secret_state import SecretSpec

        return SecretSpec
    if name == "derive_ses_smtp_password":
        from .ses import derive_ses_smtp_password

        return derive_ses_smtp_password
    raise AttributeError(name)
