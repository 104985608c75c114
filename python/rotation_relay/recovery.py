"""The authentication failure path of docs/protocol.md (step 7), for any client: refresh
AWSCURRENT and retry once, then AWSPENDING and retry once, then the original error."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional, TypeVar

if TYPE_CHECKING:
    from .cache import CredentialCache

T = TypeVar("T")


def recover_auth_failure(cache: "CredentialCache", name: str, error: BaseException, retry: Callable[[], T],
                         is_auth_error: Callable[[BaseException], bool], failed_version: Optional[str] = None) -> T:
    """Called with the login error `error`; `retry()` opens the connection again with whatever
    `cache.credentials(name)` holds then. A recovered failure never reaches the caller.

    failed_version: the version the refused login used. A login that began before a broadcast
    switched the cache and was refused after it is retried with the new version at once."""
    def attempt() -> "tuple[bool, Optional[T]]":
        """One retry: (True, result) if it logged in; (False, None) if refused again."""
        try:
            result = retry()
        except Exception as retry_error:
            if not is_auth_error(retry_error):
                raise
            return False, None
        cache._count("auth_recoveries")
        return True, result

    if cache.report_auth_failure(name, failed_version):  # 1. AWSCURRENT moved (we had not heard yet, or heard mid-login)
        ok, result = attempt()
        if ok:
            return result  # type: ignore[return-value]
    # 2. the single-user window: the server has the AWSPENDING password. Or AWSCURRENT moved and
    # a broadcast switched the cache between the two reads: what is held now is newer, retry.
    if cache.use_pending(name) or (failed_version is not None and cache.version(name) != failed_version):
        ok, result = attempt()
        if ok:
            return result  # type: ignore[return-value]
    raise error  # 3. not a rotation: the original error
