"""A pre-fork server like gunicorn with preload: the master sets Django up and starts the cache,
forks WORKERS children, then stops its own cache. Each child runs ORM queries, cache get/set and
send_mail in request-like loops until SIGTERM, and writes JSON lines to OUT/<pid>.jsonl: every
rotation it saw (with the wall time) and a summary with its counts and failures.

Shutdown is bounded, like gunicorn's graceful timeout: on SIGTERM a child stops its loops, waits
at most STOP_TIMEOUT_S for the operation in flight (every client has a socket timeout, see
settings.py), writes its summary (naming any loop still stuck) and exits; the master forwards
SIGTERM, waits at most MASTER_TIMEOUT_S, then SIGKILLs what is left and exits non-zero."""
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django_project.settings")

STOP_TIMEOUT_S = 8.0  # longest an operation may take once asked to stop: above every socket timeout (5 s)
MASTER_TIMEOUT_S = 15.0  # children's stop timeout plus their summary and deregistration


def worker(index: int, out_dir: str, stop: threading.Event) -> int:
    from django.core.cache import cache as django_cache
    from django.core.mail import send_mail
    from django.db import close_old_connections

    from rotation_relay.django import get_cache
    from tests.django_project.loadapp.models import Item

    out = open(os.path.join(out_dir, f"{os.getpid()}.jsonl"), "a", buffering=1)
    lock = threading.Lock()

    def emit(record):
        with lock:
            out.write(json.dumps(record) + "\n")

    cache = get_cache()  # the listener starts here, in the child
    cache.on_rotated(lambda name, version, trigger: emit({"type": "rotated", "name": name, "version": version, "trigger": trigger, "at": time.time()}))
    results = {k: {"ok": 0, "failed": 0, "errors": []} for k in ("orm", "cache", "mail")}

    def loop(kind, operation, pause):
        n = 0
        while not stop.is_set():
            n += 1
            close_old_connections()  # request start
            try:
                operation(n)
                results[kind]["ok"] += 1
            except Exception as error:
                results[kind]["failed"] += 1
                if len(results[kind]["errors"]) < 5:  # class, a bounded text and when: the test prints them
                    results[kind]["errors"].append(f"{time.time():.3f} {type(error).__name__}: {str(error)[:200]}")
            finally:
                try:
                    close_old_connections()  # request end
                except Exception:
                    pass
            stop.wait(pause)
        close_old_connections()

    def orm(n):
        Item.objects.create(name=f"w{index}-{n}", worker=index)
        assert Item.objects.filter(worker=index).count() >= 1

    def cache_op(n):
        django_cache.set(f"k{index}", n, 60)
        assert django_cache.get(f"k{index}") == n

    def mail(n):
        assert send_mail("hi", "hello", "app@example.com", ["ops@example.com"]) == 1

    threads = [threading.Thread(target=loop, args=a, name=f"load-{a[0]}", daemon=True)
               for a in (("orm", orm, 0.005), ("cache", cache_op, 0.005), ("mail", mail, 0.02))]
    for t in threads:
        t.start()
    # Ready once the listener is subscribed: from then on a broadcast reaches this process.
    deadline = time.monotonic() + 20
    while not cache.status()["pubsub"]["connected"] and time.monotonic() < deadline and not stop.is_set():
        stop.wait(0.02)
    emit({"type": "ready", "instance_id": cache.instance_id, "subscribed": cache.status()["pubsub"]["connected"],
          "versions": {n: s["version_id"] for n, s in cache.status()["secrets"].items()}})
    while not stop.wait(0.2):  # the main thread takes SIGTERM; a plain join() would also do, this is explicit
        pass
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    status = cache.status()
    emit({"type": "summary", "results": results, "stuck": stuck, "versions": {n: s["version_id"] for n, s in status["secrets"].items()},
          "counts": status["counts"]})
    cache.stop()
    out.close()
    return 1 if stuck else 0


def main() -> int:
    workers, out_dir = int(sys.argv[1]), sys.argv[2]
    children = []
    stopping = threading.Event()

    def on_term(*_):
        stopping.set()
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, on_term)  # before anything slow: a SIGTERM during setup stops cleanly
    # rotation_relay's own lines (versions, AWSPENDING use, refused logins) with time and pid, in
    # the server log the test prints on failure. They name versions and error classes, no value.
    logging.basicConfig(level=logging.INFO, format="%(created).3f %(process)d %(name)s %(levelname)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    import django

    django.setup()
    from django.db import connection

    from rotation_relay.django import get_cache
    from tests.django_project.loadapp.models import Item

    get_cache()  # preload: the master reads the secrets once
    assert Item.objects.count() >= 0  # the master's own ORM query (the table is made by the test as superuser)
    connection.close()
    for index in range(workers):
        if stopping.is_set():
            break
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                stop = threading.Event()
                signal.signal(signal.SIGTERM, lambda *_: stop.set())
                if stopping.is_set():
                    stop.set()
                code = worker(index, out_dir, stop)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children.append(pid)
    get_cache().stop()  # the master serves nothing: deregister it
    code = 0
    waiting = set(children)
    deadline = None
    while waiting:
        if stopping.is_set() and deadline is None:
            deadline = time.monotonic() + MASTER_TIMEOUT_S
        for pid in list(waiting):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                waiting.discard(pid)
                code |= os.waitstatus_to_exitcode(status) & 0xFF
        if waiting and deadline is not None and time.monotonic() > deadline:
            for pid in waiting:
                print(f"serve: worker {pid} did not exit within {MASTER_TIMEOUT_S:.0f} s of SIGTERM: SIGKILL", flush=True)
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            return 1
        stopping.wait(0.05)
    return code


if __name__ == "__main__":
    sys.exit(main())
