"""A Django project (tests/django_project) under load across real rotations: 2 pre-forked
worker processes run ORM queries, cache get/set and send_mail while the database (single-user),
the cache (overlap, then hard switch) and the mail password (hard switch) rotate twice each.
0 failed operations; each process on the new version within 1 s of the worker's broadcast."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

from test_cache import wait_for

WORKERS = 2
ROUNDS = 2


def records(out_dir):
    result = {}
    for path in glob.glob(os.path.join(out_dir, "*.jsonl")):
        with open(path) as f:
            result[path] = [json.loads(line) for line in f if line.strip()]
    return result


def test_django_processes_survive_rotations(tmp_path, rotate, cli, bus) -> None:
    import psycopg2

    admin = psycopg2.connect(host=os.environ["RR_PG_HOST"], port=os.environ["RR_PG_PORT"], user="postgres",
                             password=os.environ["RR_PG_SUPERUSER_PASSWORD"], dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:  # PostgreSQL 15: the app role may not create in public
        cursor.execute("CREATE TABLE IF NOT EXISTS loadapp_item (id serial PRIMARY KEY, name varchar(64) NOT NULL, worker integer NOT NULL)")
        cursor.execute("GRANT ALL ON loadapp_item, loadapp_item_id_seq TO app")
    admin.close()
    root = os.path.join(os.path.dirname(__file__), "..")
    server = subprocess.Popen([sys.executable, "-m", "tests.django_project.serve", str(WORKERS), str(tmp_path)], cwd=root,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for(lambda: sum(1 for r in records(tmp_path).values() for x in r if x["type"] == "ready") == WORKERS, "the workers", 30)
        except AssertionError:
            server.kill()
            raise AssertionError("the Django workers did not start:\n" + server.communicate()[0].decode("utf-8", "replace")[-3000:])
        ids = [x["instance_id"] for r in records(tmp_path).values() for x in r if x["type"] == "ready"]
        time.sleep(1.0)  # load before the first rotation (a duration of load, not a synchronisation)
        switches = []
        last = {}
        for round in range(ROUNDS):
            for kind in ("db", "cache", "mail"):
                result = rotate(kind, round=round, instances=WORKERS)  # waitConverged: both workers acked
                entry = json.loads(bus.hget("{rotation-relay}:versions", os.environ[f"RR_SECRET_{kind.upper()}"]))
                assert entry["versionId"] == result["newVersion"]
                last[kind] = result["newVersion"]
                published = time.mktime(time.strptime(entry["publishedAt"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone + float("0." + entry["publishedAt"][20:23])
                for path, lines in records(tmp_path).items():
                    seen = [x for x in lines if x["type"] == "rotated" and x["name"] == kind and x["version"] == result["newVersion"]]
                    assert seen, f"{path} never switched {kind}"
                    switches.append(seen[0]["at"] - published)
        status = cli(["status"])
        assert status["code"] == 0, status
        assert f"{WORKERS} live instances" in status["stdout"], status  # the Django processes, counted
        assert len(set(ids)) == WORKERS
        converged = cli(["wait-converged", os.environ["RR_SECRET_DB"], "--version", last["db"], "--min-instances", str(WORKERS), "--timeout", "5s"])
        assert converged["code"] == 0, converged
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode("utf-8", "replace")
    assert server.returncode == 0, output
    summaries = [x for r in records(tmp_path).values() for x in r if x["type"] == "summary"]
    assert len(summaries) == WORKERS, output
    totals = {k: sum(s["results"][k]["ok"] for s in summaries) for k in ("orm", "cache", "mail")}
    failures = [e for s in summaries for k in s["results"] for e in s["results"][k]["errors"]]
    failed = sum(s["results"][k]["failed"] for s in summaries for k in s["results"])
    print(json.dumps({"django": {"workers": WORKERS, "rotations": ROUNDS * 3, "ok": totals, "failed": failed,
                                 "maxSwitchMs": round(max(switches) * 1000), "switchesMs": [round(s * 1000) for s in switches],
                                 "authRecoveries": [s["counts"]["auth_recoveries"] for s in summaries]}}))
    assert failed == 0, failures
    assert all(v > 20 for v in totals.values()), totals
    assert max(switches) < 1.0, switches
