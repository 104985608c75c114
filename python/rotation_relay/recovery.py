"""The authentication failure path of docs/protocol.md (step 7), for any client: refresh
AWSCURRENT and retry once, then AWSPENDING and retry once, then the original error."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TypeVar

if TYPE_CHECKING:
    from .cache import CredentialCache

T = TypeVar("T")


def recover_auth_failure(cache: "CredentialCache", name: str, error: BaseException, retry: Callable[[], T],
                         is_auth_error: Callable[[BaseException], bool]) -> T:
    """Called with the login error `error`; `retry()` opens the connection again with whatever
    `cache.credentials(name)` holds then. A recovered failure never reaches the caller."""
    if cache.report_auth_failure(name):  # 1. AWSCURRENT moved and we had not heard yet
        try:
            result = retry()
            cache._count("auth_recoveries")
            return result
        except Exception as retry_error:
            if not is_auth_error(retry_error):
                raise
    if cache.use_pending(name):  # 2. the single-user window: the server has the AWSPENDING password
        try:
            result = retry()
            cache._count("auth_recoveries")
            return result
        except Exception as retry_error:
            if not is_auth_error(retry_error):
                raise
    raise error  # 3. not a rotation: the original error
