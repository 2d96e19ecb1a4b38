"""A large ticket table for the search and list benchmark, built inside
PostgreSQL with generate_series (no events, no ORM): fast enough to build a
million tickets on a shared two-core machine in minutes.

A fresh database (migrated, demo-seeded: units, users, categories) gets N
tickets over the last twelve months: texts drawn from --texts real citizen
messages (bench/generate.load_texts; each cut into search terms once by
dispatch.search.index_words, the same code intake runs), spread over the
seeded departments and districts, statuses and urgencies in realistic
shares (recent tickets still open), random mobile numbers and callers.
Secondary indexes are dropped for the load and rebuilt, then VACUUM ANALYZE.

    python bench/search_data.py [--tickets 1000000] [--texts 2000] [--database-url URL]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after the project: bench/classifier.py must not shadow the package

import generate  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1/hotline_search_bench"


def build(url: str, n: int, n_texts: int = 2000, seed: int = 12345, log=print) -> None:
    import psycopg

    from dispatch.search import index_words
    from hotline.seed import seed_demo
    from models import Database
    from models.migrate import upgrade

    t0 = time.time()
    generate.fresh_database(url)
    upgrade(url)
    db = Database(url)
    seed_demo(db, password="bench-password")
    db.dispose()
    log(f"database migrated and seeded in {time.time() - t0:.0f}s", flush=True)
    texts, _, sources = generate.load_texts()
    rnd = random.Random(seed)
    texts = rnd.sample(texts, min(n_texts, len(texts)))
    pg = generate.psycopg_url(url)
    with psycopg.connect(pg, autocommit=True) as c:
        c.execute("CREATE UNLOGGED TABLE bench_texts (id int PRIMARY KEY, subject text, description text, words text)")
        t1 = time.time()
        with c.cursor().copy("COPY bench_texts FROM STDIN") as cp:
            for i, (subject, description, _) in enumerate(texts):
                cp.write_row((i, subject, description, index_words(subject, description)))
                if (i + 1) % 500 == 0:
                    log(f"  {i + 1:>6,} / {len(texts):,} texts cut into search terms ({time.time() - t1:.0f}s)", flush=True)
        drops, creates = generate._secondary(c, ("tickets",))
        for sql in drops:
            c.execute(sql)
        log(f"{len(texts):,} texts from {', '.join(sources)}; inserting {n:,} tickets …", flush=True)
        t2 = time.time()
        c.execute("SELECT setseed(%s)", (rnd.random() * 2 - 1,))
        step = max(1, n // 10)
        for lo in range(1, n + 1, step):
            hi = min(n, lo + step - 1)
            c.execute(INSERT, {"lo": lo, "hi": hi, "n": n, "ntexts": len(texts)})
            el = time.time() - t2
            log(f"  {hi:>9,} tickets  {el:6.1f}s  {hi / el:8,.0f} tickets/s  eta {el / hi * (n - hi):5.0f}s", flush=True)
        t3 = time.time()
        log(f"rebuilding {len(creates)} indexes and constraints …", flush=True)
        c.execute("SET maintenance_work_mem = '1GB'")
        for sql in creates:
            c.execute(sql)
        c.execute("SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))")
        log(f"indexes in {time.time() - t3:.0f}s; VACUUM ANALYZE …", flush=True)
        c.execute("DROP TABLE bench_texts")
        c.execute("VACUUM (ANALYZE) tickets")
    log(f"built {n:,} tickets in {time.time() - t0:.0f}s", flush=True)


# Departments and districts of the city (the seed's units), the open share
# growing towards now, due times by urgency.
INSERT = """
WITH picks AS (
    SELECT array_agg(u.id ORDER BY u.id) AS ids FROM units u
    JOIN units p ON p.id = u.parent_id AND p.code = 'gy12345'
    WHERE u.kind IN ('department', 'district')
), city AS (SELECT id FROM units WHERE code = 'gy12345'),
g AS (
    SELECT i, random() AS r_age, random() AS r_status, random() AS r_urg, random() AS r_unit,
           random() AS r_chan, (random() * 1e9)::bigint AS r_phone, random() AS r_name,
           (i::bigint * 7919) %% %(ntexts)s AS text_id
    FROM generate_series(%(lo)s::int, %(hi)s::int) AS i
), t AS (
    SELECT g.*, now() - (power(g.r_age, 0.8) * interval '365 days') AS created,
           CASE WHEN g.r_urg < 0.02 THEN 'emergency' WHEN g.r_urg < 0.10 THEN 'utility'
                WHEN g.r_urg < 0.95 THEN 'general' ELSE 'complex' END AS urgency
    FROM g
), s AS (
    SELECT t.*,
           CASE WHEN t.created > now() - interval '20 days' THEN
                    (ARRAY['accepted', 'dispatched', 'handling', 'handling', 'awaiting_citizen', 'returned',
                           'replied', 'closed', 'closed', 'closed'])[1 + floor(t.r_status * 10)::int]
                WHEN t.r_status < 0.004 THEN 'handling'
                WHEN t.r_status < 0.02 THEN 'cancelled'
                WHEN t.r_status < 0.035 THEN 'merged'
                WHEN t.created > now() - interval '60 days' THEN 'closed'
                ELSE 'archived' END AS status,
           CASE t.urgency WHEN 'emergency' THEN interval '2 hours' WHEN 'utility' THEN interval '24 hours'
                WHEN 'general' THEN interval '7 days' ELSE interval '15 days' END AS limit_
    FROM t
)
INSERT INTO tickets (id, number, channel, request_type, caller_name, caller_phone, phone_tail, confidential,
                     subject, description, address, division_code, needs_review, platform_id, responsible_unit_id,
                     status, urgency, sign_due_at, due_at, dispatched_at, signed_at, closed_at, reply_text,
                     return_count, transcript, extra, created_at, updated_at, version, search_text)
SELECT s.i, to_char(s.created AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || lpad(s.i::text, 7, '0'),
       (ARRAY['phone', 'phone', 'phone', 'phone', 'phone', 'phone', 'web', 'app', 'wechat', 'email'])[1 + floor(s.r_chan * 10)::int],
       'complaint',
       substr('王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈',
              1 + floor(s.r_name * 48)::int, 1) || CASE WHEN floor(s.r_name * 1000)::int %% 2 = 0 THEN '先生' ELSE '女士' END,
       '1' || (ARRAY['3', '5', '8', '9'])[1 + (s.r_phone %% 4)::int] || lpad((s.r_phone %% 1000000000)::text, 9, '0'),
       lpad((s.r_phone %% 10000)::text, 4, '0'),
       s.r_chan < 0.02, x.subject, x.description, '', '5201', s.status = 'accepted' AND s.r_unit < 0.5,
       city.id,
       CASE WHEN s.status IN ('accepted', 'cancelled') THEN NULL
            ELSE u.ids[1 + floor(s.r_unit * array_length(u.ids, 1))::int] END,
       s.status, s.urgency,
       CASE WHEN s.status NOT IN ('accepted', 'cancelled') THEN s.created + least(s.limit_, interval '1 day') END,
       CASE WHEN s.status NOT IN ('accepted', 'cancelled') THEN s.created + s.limit_ END,
       CASE WHEN s.status NOT IN ('accepted', 'cancelled') THEN s.created + interval '10 minutes' END,
       CASE WHEN s.status NOT IN ('accepted', 'dispatched', 'cancelled') THEN s.created + interval '3 hours' END,
       CASE WHEN s.status IN ('closed', 'archived') THEN s.created + s.limit_ * 0.6 END,
       '', 0, '', '{}', s.created, s.created, 1, x.words
FROM s CROSS JOIN picks u CROSS JOIN city JOIN bench_texts x ON x.id = s.text_id
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--database-url", default=DEFAULT_URL)
    a = ap.parse_args(argv)
    build(a.database_url, a.tickets, a.texts)


if __name__ == "__main__":
    main()
