"""Periodic jobs: one list in the composition root (hotline/wiring.py), run
on the embedded default and registered with rq's cron when Redis is there."""
from __future__ import annotations

from runtime import jobs, periodic
from hotline import wiring
from tests.dispatch import factories as f


def test_every_periodic_job_runs_on_a_live_database(seeded_db):
    listed = wiring.periodic_jobs()
    names = [j.name for j in listed]
    assert {"sla_sweep", "outbox-sweep", "figures-ledger", "classifier-nightly-retrain"} <= set(names)
    assert len(names) == len(set(names))
    for j in listed:
        assert (j.every is None) != (j.cron is None), f"{j.name}: an interval or a cron, not both"
        assert j.timeout > 0 and j.queue in jobs.QUEUES
    f.wire(seeded_db)
    try:
        for j in listed:
            if j.in_process:
                j.func()  # raises if a sweep is broken
    finally:
        jobs.reset()


def test_cron_registers_every_job_with_its_interval_and_timeout(redis_conn):
    listed = wiring.periodic_jobs()
    sched = periodic.cron_scheduler(redis_conn, listed)
    registered = {j.name: j for j in sched.get_jobs()}
    assert set(registered) == {j.name for j in listed}
    for j in listed:
        cj = registered[j.name]
        d = cj.to_dict()
        assert (d["interval"], d["cron"], d["job_timeout"], d["queue_name"]) == (j.every, j.cron, j.timeout, j.queue)
    assert registered["sla_sweep"].interval == 60
    assert registered["classifier-nightly-retrain"].cron == "0 19 * * *"
    enqueued = sched.enqueue_jobs()
    assert {j.name for j in enqueued} >= {"sla_sweep", "outbox-sweep", "figures-ledger"}
