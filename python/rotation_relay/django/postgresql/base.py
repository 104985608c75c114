"""Django's PostgreSQL backend whose USER and PASSWORD come from the credential cache.

DATABASES["default"]["OPTIONS"]["ROTATION_SECRET"] names the cache secret (default "db"); it is
removed from the options before psycopg2 sees them. HOST, PORT and NAME come from settings, or
from the secret when settings leave them empty.

- every new connection uses the credentials held now (AWSPENDING during a single-user window);
- a refused login (28P01/28000) refreshes AWSCURRENT and retries once, then AWSPENDING, then
  raises the original error, all inside connect: a recovered failure never reaches the view;
- a connection opened with an older version is closed at the next request boundary
  (close_old_connections) and reopened with the current credentials;
- on an emergency revoke (a signed `terminateOld`) it is closed at once, from the listener
  thread: its query in flight is cancelled and fails, as with the Node pool; the next request
  opens a new connection.
"""
from __future__ import annotations

import weakref
from typing import Any, Dict, Optional

from django.db.backends.postgresql import base as pg_base

from .. import get_cache, register_revoker
from ...recovery import recover_auth_failure

# Every wrapper that opened a connection, in any thread (Django keeps one per thread and alias).
_wrappers: "weakref.WeakSet[DatabaseWrapper]" = weakref.WeakSet()


def _revoke(name: str, version: str) -> None:
    for wrapper in list(_wrappers):
        connection = wrapper.connection
        if connection is None or wrapper.rotation_secret != name or wrapper._credential_version in (None, version):
            continue
        # psycopg2 connections may be used from several threads: cancel() ends the owner's query
        # in flight (close() would wait for it), close() ends the session. Django sees a closed
        # connection at its next use or request boundary and opens a new one.
        for end in (connection.cancel, connection.close):
            try:
                end()
            except Exception:
                pass


register_revoker(_revoke)


def is_auth_error(error: BaseException) -> bool:
    """PostgreSQL refused the login: SQLSTATE 28P01 / 28000 (psycopg2 pgcode, psycopg 3
    sqlstate), or, for errors raised while connecting that carry no code, the server's text."""
    code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if code in ("28P01", "28000"):
        return True
    cause = getattr(error, "__cause__", None)
    if cause is not None and cause is not error and is_auth_error(cause):
        return True
    text = str(error)
    return "password authentication failed" in text or "no pg_hba.conf entry" in text


class DatabaseWrapper(pg_base.DatabaseWrapper):
    _credential_version: Optional[str] = None
    _params_version: Optional[str] = None

    @property
    def rotation_secret(self) -> str:
        return self.settings_dict.get("OPTIONS", {}).get("ROTATION_SECRET", "db")

    def get_connection_params(self) -> Dict[str, Any]:
        secret = self.rotation_secret
        version, value = get_cache().credentials(secret)
        for setting, field in (("HOST", "host"), ("PORT", "port"), ("NAME", "dbname")):
            if not self.settings_dict.get(setting) and value.get(field):
                self.settings_dict[setting] = str(value[field])
        options = self.settings_dict.get("OPTIONS", {})
        saved = options.pop("ROTATION_SECRET", None)
        try:
            params = super().get_connection_params()
        finally:
            if saved is not None:
                options["ROTATION_SECRET"] = saved
        params["user"] = value["username"]
        params["password"] = value["password"]
        self._params_version = version
        return params

    def get_new_connection(self, conn_params: Dict[str, Any]) -> Any:
        try:
            connection = super().get_new_connection(conn_params)
        except Exception as error:
            if not is_auth_error(error):
                raise
            connection = recover_auth_failure(
                get_cache(), self.rotation_secret, error,
                lambda: super(DatabaseWrapper, self).get_new_connection(self.get_connection_params()),
                is_auth_error, failed_version=self._params_version,
            )
        self._credential_version = self._params_version
        _wrappers.add(self)
        return connection

    def close_if_unusable_or_obsolete(self) -> None:
        super().close_if_unusable_or_obsolete()
        if (self.connection is not None and not self.in_atomic_block
                and self._credential_version != get_cache().version(self.rotation_secret)):
            self.close()  # credentials rotated: reconnect with the new ones at this request boundary
