"""An emergency revoke (`rotation-relay publish SECRET --terminate-old`, a signed `terminateOld`)
reaching the Django backends in this process: after a real rotation, the connections still logged
in with the old version are closed at once, not at the next request boundary, and the next work
logs in with the new credentials. As docs/protocol.md asks of every subscriber."""
import os
import smtplib

import pytest

from test_cache import wait_for


@pytest.fixture
def django_app():
    """Django set up in this process with the test project's settings; its cache stopped after."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django_project.settings")
    import django

    django.setup()
    from rotation_relay.django import get_cache, reset_cache_for_tests

    cache = get_cache()
    wait_for(lambda: cache.status()["pubsub"]["connected"], "the subscription")
    yield cache
    from django.db import connection

    connection.close()
    reset_cache_for_tests()


def revoke(cli, secret_env):
    result = cli(["publish", os.environ[secret_env], "--terminate-old"])
    assert result["code"] == 0, result


def test_revoke_closes_the_old_database_session_at_once(django_app, rotate, cli) -> None:
    import psycopg2
    from django.db import close_old_connections, connection

    admin = psycopg2.connect(host=os.environ["RR_PG_HOST"], port=os.environ["RR_PG_PORT"], user="postgres",
                             password=os.environ["RR_PG_SUPERUSER_PASSWORD"], dbname="postgres", connect_timeout=5)
    admin.autocommit = True

    def session_alive(pid):
        with admin.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
            return cursor.fetchone()[0] == 1

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            old_pid = cursor.fetchone()[0]
        rotate("db", round=2, instances=1)
        assert session_alive(old_pid)  # a rotation alone leaves it to the next request boundary

        revoke(cli, "RR_SECRET_DB")

        wait_for(lambda: not session_alive(old_pid), "the old session to end", timeout=5)
        close_old_connections()  # the next request
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] != old_pid
    finally:
        admin.close()


def test_revoke_disconnects_old_cache_connections_and_the_next_command_logs_in_anew(django_app, rotate, cli) -> None:
    from django.core.cache import cache as django_cache

    django_cache.set("revoke-k", 1, 60)
    pool = django_cache.client.get_client().connection_pool
    old = [c for c in pool._available_connections if c._sock is not None]
    assert old, "an idle pooled connection logged in with the old version"
    rotate("cache", round=2, instances=1)
    assert all(c._sock is not None for c in old)  # a rotation alone drops them at the next checkout

    revoke(cli, "RR_SECRET_CACHE")

    wait_for(lambda: all(c._sock is None for c in old), "the old connections to close", timeout=5)
    django_cache.set("revoke-k", 2, 60)
    assert django_cache.get("revoke-k") == 2
    assert {c.credential_version for c in pool._available_connections if c._sock is not None} == {django_app.version("cache")}


def test_revoke_cuts_an_open_smtp_connection_and_the_next_send_logs_in_anew(django_app, rotate, cli) -> None:
    from django.core.mail import EmailMessage, get_connection

    backend = get_connection()
    backend.open()
    assert backend.connection.noop()[0] == 250
    rotate("mail", round=2, instances=1)

    revoke(cli, "RR_SECRET_MAIL")

    def cut():
        try:
            backend.connection.noop()
            return False
        except (smtplib.SMTPServerDisconnected, OSError):
            return True

    wait_for(cut, "the old SMTP connection to be cut", timeout=5)
    assert backend.send_messages([EmailMessage("after revoke", "hi", "app@example.com", ["ops@example.com"])]) == 1
    assert backend._version == django_app.version("mail")
    backend.close()
