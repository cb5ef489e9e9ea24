"""SQLite under concurrent writers: a full score run, an import and API writes at the same time.

The embedded mode has several writers at once (the web server, the worker's processes, beat).
With WAL, IMMEDIATE transactions and a busy timeout (crm_site/settings.py) none of them may fail
with "database is locked". The in-memory test database cannot show that (one process, shared
cache), so the demo data are copied into a SQLite file and three processes with their own
connections write to it at once: ``recompute_scores --sync`` (a whole run, its final write one
transaction), ``import_data`` in chunks of 200 rows (one transaction each), and an API writer
with two threads updating and creating interactions until both end.
"""
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from customers.models import Customer

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 420  # seconds for the whole exchange: a bound, far above what it takes
IMPORTED = 3_000


def _spawn(args, env, log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def test_score_run_import_and_api_writes_at_once_never_find_the_database_locked(tmp_path):
    """Runs whatever database the suite itself uses (CI: PostgreSQL): the embedded mode's SQLite
    file is built here, by the same commands a new user runs."""
    database = tmp_path / "crm.sqlite3"
    upload = tmp_path / "customers.csv"
    upload.write_text("external_id,name,email\n" + "".join(
        f"conc-{i},Concurrent {i},concurrent{i}@example.com\n" for i in range(IMPORTED)))
    env = {key: value for key, value in os.environ.items() if key not in {"CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "REDIS_URL"}}
    env.update(DATABASE_URL=f"sqlite:///{database}", TASKS_EAGER="true", MEDIA_ROOT=str(tmp_path / "media"),
               RUN_DIR=str(tmp_path / "run"), OMP_NUM_THREADS="1")
    manage = [sys.executable, "manage.py"]
    for setup in (["migrate", "--no-input", "-v", "0"],
                  ["seed_demo", "--customers", "300", "--seed", "11", "--as-of", "2026-09-01"]):
        subprocess.run([*manage, *setup], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    stop, writes_file = tmp_path / "stop", tmp_path / "writes.json"
    deadline = time.time() + LIMIT

    writer = _spawn([sys.executable, str(ROOT / "tests/core/sqlite_api_writer.py"), str(writes_file), str(stop),
                     str(deadline)], env, tmp_path / "writer.log")
    started = time.time()
    score = _spawn([*manage, "recompute_scores", "--sync", "--as-of", "2026-09-01", "--format", "json"],
                   env, tmp_path / "score.log")
    load = _spawn([*manage, "import_data", "customers", str(upload), "--chunk-rows", "200", "--user", "manager",
                   "--format", "json"], env, tmp_path / "import.log")
    ended = {}
    try:
        while len(ended) < 2 and time.time() < deadline:
            for name, process in (("score", score), ("import", load)):
                if name not in ended and process.poll() is not None:
                    ended[name] = time.time()
            time.sleep(0.1)
    finally:
        stop.touch()
        for process in (score, load, writer):
            try:
                process.wait(timeout=max(deadline - time.time(), 1) + 30)
            except subprocess.TimeoutExpired:
                process.kill()
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("score", "import", "writer")}
    assert len(ended) == 2, f"not done within {LIMIT} s: {logs}"
    for name, text in logs.items():
        assert "database is locked" not in text, f"{name}: {text[-3000:]}"
    assert score.returncode == 0 and load.returncode == 0 and writer.returncode == 0, logs

    run = json.loads(logs["score"].strip().splitlines()[-1])
    assert run["status"] == "succeeded", run
    assert json.loads(logs["import"].strip().splitlines()[-1])["created"] == IMPORTED
    with sqlite3.connect(database) as check:
        assert check.execute(f"SELECT COUNT(*) FROM {Customer._meta.db_table}").fetchone()[0] == 300 + IMPORTED
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    result = json.loads(writes_file.read_text())
    assert result["errors"] == []
    writes = result["writes"]
    failed = [w for w in writes if w["status"] >= 300]
    assert not failed, failed[:3]
    # The three overlapped: API writes went through while each of the other two was running.
    during = {name: sum(started <= w["at"] <= end for w in writes) for name, end in ended.items()}
    assert min(during.values()) >= 5, during
    assert started < min(ended.values())
    slowest = max(w["seconds"] for w in writes)
    print(f"{len(writes)} API writes; during the run {during['score']}, during the import {during['import']}; "
          f"slowest {slowest:.1f} s; score run {ended['score'] - started:.1f} s "
          f"(write {run['timings'].get('write')} s), import {ended['import'] - started:.1f} s")
