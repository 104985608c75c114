"""EMAIL_BACKEND "rotation_relay.django.email.EmailBackend": Django's SMTP backend with the
login from the credential cache (EMAIL_ROTATION_SECRET, default "mail"): SMTP credentials
`{username, password}`, or an IAM key pair `{accessKeyId, secretAccessKey, region?}` whose SES
SMTP password is derived (region: the secret, EMAIL_SES_REGION, or the email-smtp host).
A 535 at login refreshes AWSCURRENT and retries once, then AWSPENDING, then raises. On an
emergency revoke (a signed `terminateOld`) an open connection logged in with another version is
cut at once (its socket shut down: a message in flight fails); the next open() logs in anew."""
from __future__ import annotations

import smtplib
import socket
import weakref
from typing import Any

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as SmtpEmailBackend

from . import get_cache, register_revoker
from ..recovery import recover_auth_failure
from ..ses import smtp_login

_backends: "weakref.WeakSet[EmailBackend]" = weakref.WeakSet()


def _revoke(name: str, version: str) -> None:
    for backend in list(_backends):
        connection = backend.connection
        sock = getattr(connection, "sock", None)
        if sock is None or backend.rotation_secret != name or backend._version in (None, version):
            continue
        try:  # smtplib is not thread-safe: shut the socket down, never write to it from here
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


register_revoker(_revoke)


def is_auth_error(error: BaseException) -> bool:
    return isinstance(error, smtplib.SMTPAuthenticationError) or getattr(error, "smtp_code", None) == 535


class EmailBackend(SmtpEmailBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rotation_secret = getattr(settings, "EMAIL_ROTATION_SECRET", "mail")
        self._version = None
        _backends.add(self)

    def _apply_credentials(self) -> None:
        version, value = get_cache().credentials(self.rotation_secret)
        self.username, self.password = smtp_login(value, self.host, getattr(settings, "EMAIL_SES_REGION", None))
        self._version = version

    def open(self) -> Any:
        if self.connection is not None and self._version != get_cache().version(self.rotation_secret):
            self.close()  # an open connection logged in with an older version: log in again
        if self.connection is not None:
            return False
        fail_silently, self.fail_silently = self.fail_silently, False
        try:
            self._apply_credentials()
            try:
                return super().open()
            except Exception as error:
                if not is_auth_error(error):
                    raise
                failed_version = self._version
                self.close()

                def retry() -> Any:
                    self.close()
                    self._apply_credentials()
                    return super(EmailBackend, self).open()

                return recover_auth_failure(get_cache(), self.rotation_secret, error, retry, is_auth_error, failed_version=failed_version)
        except Exception:
            self.close()
            if not fail_silently:
                raise
            return False
        finally:
            self.fail_silently = fail_silently
