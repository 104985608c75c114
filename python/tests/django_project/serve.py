"""A pre-fork server like gunicorn with preload: the master sets Django up and starts the cache,
forks WORKERS children, then stops its own cache. Each child runs ORM queries, cache get/set and
send_mail in request-like loops until SIGTERM, and writes JSON lines to OUT/<pid>.jsonl: every
rotation it saw (with the wall time) and a summary with its counts and failures."""
import json
import os
import signal
import sys
import threading
import time
import traceback

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django_project.settings")


def worker(index: int, out_dir: str) -> None:
    from django.core.cache import cache as django_cache
    from django.core.mail import send_mail
    from django.db import close_old_connections

    from rotation_relay.django import get_cache
    from tests.django_project.loadapp.models import Item

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out = open(os.path.join(out_dir, f"{os.getpid()}.jsonl"), "a", buffering=1)
    lock = threading.Lock()

    def emit(record):
        with lock:
            out.write(json.dumps(record) + "\n")

    cache = get_cache()  # the listener starts here, in the child
    cache.on_rotated(lambda name, version, trigger: emit({"type": "rotated", "name": name, "version": version, "trigger": trigger, "at": time.time()}))
    emit({"type": "ready", "instance_id": cache.instance_id, "versions": {n: s["version_id"] for n, s in cache.status()["secrets"].items()}})
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
                if len(results[kind]["errors"]) < 5:
                    results[kind]["errors"].append(f"{type(error).__name__}: {str(error)[:200]}")
            finally:
                close_old_connections()  # request end
            time.sleep(pause)

    def orm(n):
        Item.objects.create(name=f"w{index}-{n}", worker=index)
        assert Item.objects.filter(worker=index).count() >= 1

    def cache_op(n):
        django_cache.set(f"k{index}", n, 60)
        assert django_cache.get(f"k{index}") == n

    def mail(n):
        assert send_mail("hi", "hello", "app@example.com", ["ops@example.com"]) == 1

    threads = [threading.Thread(target=loop, args=a) for a in (("orm", orm, 0.005), ("cache", cache_op, 0.005), ("mail", mail, 0.02))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    emit({"type": "summary", "results": results, "versions": {n: s["version_id"] for n, s in cache.status()["secrets"].items()}, "counts": cache.status()["counts"]})
    cache.stop()
    out.close()


def main() -> int:
    workers, out_dir = int(sys.argv[1]), sys.argv[2]
    import django

    django.setup()
    from django.db import connection

    from rotation_relay.django import get_cache
    from tests.django_project.loadapp.models import Item

    get_cache()  # preload: the master reads the secrets once
    assert Item.objects.count() >= 0  # the master's own ORM query (the table is made by the test as superuser)
    connection.close()
    children = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                worker(index, out_dir)
            except Exception:
                traceback.print_exc()
                code = 1
            os._exit(code)
        children.append(pid)
    get_cache().stop()  # the master serves nothing: deregister it
    signal.signal(signal.SIGTERM, lambda *_: [os.kill(pid, signal.SIGTERM) for pid in children])
    code = 0
    for pid in children:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        code |= os.waitstatus_to_exitcode(status)
    return code


if __name__ == "__main__":
    sys.exit(main())
