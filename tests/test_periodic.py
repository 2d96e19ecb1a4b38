"""Periodic jobs are declared in code, run on the embedded default and
register with rq's cron when Redis is there."""
from __future__ import annotations

from dispatch import jobs, periodic


def test_every_declared_job_runs_on_a_live_database(seeded_db):
    periodic._import_declarers()
    names = {n for n, _, _ in periodic.PERIODIC}
    assert {"sla_sweep", "outbox-sweep", "figures-ledger"} <= names
    jobs.configure(None, seeded_db)
    for _, path, _ in periodic.PERIODIC:
        periodic._resolve(path)()  # raises if a sweep is broken


def test_cron_registers_the_sweeps_and_the_nightly_retraining(redis_conn):
    sched = periodic.cron_scheduler(redis_conn)
    registered = {j.name: (j.interval, j.cron) for j in sched.get_jobs()}
    assert registered["sla_sweep"][0] == 60
    assert registered["classifier-nightly-retrain"][1] == "0 19 * * *"
    enqueued = sched.enqueue_jobs()
    assert {j.name for j in enqueued} >= {"sla_sweep", "outbox-sweep", "figures-ledger"}
