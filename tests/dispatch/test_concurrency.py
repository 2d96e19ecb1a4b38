"""Two people acting on one ticket at the same moment: exactly one wins, the
other gets Conflict (409) with the ticket's current state.  Real PostgreSQL
and threads (row lock + optimistic version); on SQLite the version check
alone is exercised."""
from __future__ import annotations

import threading

import pytest

from dispatch.errors import Conflict
from tests.dispatch import factories as f


def race(n, fn):
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = ("ok", fn(i))
        except Conflict as e:
            results[i] = ("conflict", e)
        except Exception as e:  # pragma: no cover - reported by the assertion
            results[i] = ("error", e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.fixture
def pg_only(pg_url):
    if pg_url is None:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL) for real row locks")


@pytest.mark.parametrize("with_version", [True, False])
def test_two_people_at_once_exactly_one_wins(pg_only, seeded_db, with_version):
    db = seeded_db
    svc = f.service(db)
    tid = f.ticket(db, "returned")
    version = f.load(db, tid).version
    dispatcher, coordinator = f.user_actor(db, "dispatcher"), f.user_actor(db, "coordinator")
    jyj = f.unit(db, "gy_jyj").id
    calls = [
        lambda: svc.act(dispatcher, tid, "uphold_return", {"unit_id": jyj, "reason": "改派教育局"},
                        expected_version=version if with_version else None),
        lambda: svc.act(coordinator, tid, "reject_return", {"reason": "驳回"},
                        expected_version=version if with_version else None),
    ]
    results = race(2, lambda i: calls[i]())
    kinds = sorted(r[0] for r in results)
    assert kinds == ["conflict", "ok"], results
    winner = next(r[1] for r in results if r[0] == "ok")
    loser = next(r[1] for r in results if r[0] == "conflict")
    assert loser.status == 409
    assert loser.code == ("stale_version" if with_version else "transition_refused")
    assert loser.current == {"id": tid, "status": winner.status, "version": winner.version,
                             "responsible_unit_id": winner.responsible_unit_id}
    assert f.load(db, tid).version == winner.version > version


def test_many_department_users_signing_for_one_ticket(pg_only, seeded_db):
    db = seeded_db
    svc = f.service(db)
    tid = f.ticket(db, "dispatched")
    dept = f.user_actor(db, "gy_rsj")
    results = race(6, lambda i: svc.act(dept, tid, "sign_for", {}))
    assert sorted(r[0] for r in results) == ["conflict"] * 5 + ["ok"], results


def test_a_stale_version_is_refused_on_any_database(seeded_db):
    svc = f.service(seeded_db)
    tid = f.ticket(seeded_db, "dispatched")
    v = f.load(seeded_db, tid).version
    dept = f.user_actor(seeded_db, "gy_rsj")
    svc.act(dept, tid, "sign_for", {}, expected_version=v)
    with pytest.raises(Conflict) as e:
        svc.act(dept, tid, "await_citizen", {"reason": "x"}, expected_version=v)
    assert e.value.code == "stale_version" and e.value.current["status"] == "handling"


def test_crossed_merges_never_deadlock_into_a_500(pg_only, seeded_db):
    """A into B and B into A at once: one merge wins; the other is refused
    (409 when PostgreSQL broke a deadlock, 422 when it saw A already merged)."""
    from dispatch.errors import Invalid

    db = seeded_db
    svc = f.service(db)
    dispatcher = f.user_actor(db, "dispatcher")
    for _ in range(3):
        a, b = f.ticket(db, "handling"), f.ticket(db, "handling")
        pairs = [(a, b), (b, a)]
        outcome: list = [None, None]
        barrier = threading.Barrier(2)

        def run(i):
            src, dst = pairs[i]
            barrier.wait()
            try:
                svc.act(dispatcher, src, "merge", {"into_ticket_id": dst, "reason": "重复"})
                outcome[i] = "ok"
            except (Conflict, Invalid) as e:
                outcome[i] = e.status
            except Exception as e:  # pragma: no cover
                outcome[i] = repr(e)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(map(str, outcome)) in (["409", "ok"], ["422", "ok"]), outcome
        statuses = sorted(f.load(db, x).status for x in (a, b))
        assert statuses == ["handling", "merged"]


def test_a_burst_arriving_at_once_loses_no_ticket_and_raises_one_hot_event(seeded_db, pg_only):
    """Found by bench/intake.py: tickets of one burst raced to insert the same
    hot-event item and the loser's intake failed (a lost ticket)."""
    from sqlalchemy import func, select

    from dispatch import duplicates
    from dispatch.intake import IntakeData
    from models import SupervisionItem, Ticket
    from tests.helpers import WATER

    svc = f.service(seeded_db, label="城乡建设")
    agent = f.user_actor(seeded_db, "agent")
    cat = "城乡建设/城市建设和市政管理/自来水供应"

    def one(i):
        t, _ = svc.create_ticket(agent, IntakeData(channel="phone", subject=WATER[0], description=WATER[1],
                                                   address="贵阳市南明区", category=cat,
                                                   caller_phone=f"13700000{i:03d}"))
        return t.id

    for i in range(duplicates.HOT_COUNT - 1):  # one short of a burst
        one(100 + i)
    n = 6
    results = race(n, one)
    assert [r[0] for r in results] == ["ok"] * n, results
    with seeded_db.session() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == duplicates.HOT_COUNT - 1 + n
        hot = s.scalars(select(SupervisionItem).where(SupervisionItem.kind == "hot_event")).all()
    assert len(hot) == 1
