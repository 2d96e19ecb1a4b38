"""``python -m hotline``: serve, worker, init-db, seed-demo, create-token, calendar,
tokens list|revoke, audit-export, demo (init-db + seed-demo + serve, the README's
first command), routing-eval (unit routing figures on an annotated CSV), emergency-eval
(the emergency detector's figures on a labelled CSV)."""
from __future__ import annotations

import argparse
import logging
import sys

from runtime.settings import ConfigError, Settings
from models import Database
from models.migrate import DatabaseNotMigrated, safe_url, upgrade


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as e:
        print(f"配置错误 / configuration error: {e}", file=sys.stderr)
        raise SystemExit(2)


def cmd_init_db(args) -> int:
    s = _settings()
    upgrade(s.database_url)
    print(f"database {safe_url(s.database_url)} migrated to the newest revision")
    return 0


def cmd_seed_demo(args) -> int:
    from hotline.seed import seed_demo

    s = _settings()
    accounts = seed_demo(Database(s.database_url))
    print(f"{'用户名':<16}{'角色':<12}{'密码':<16}单位")
    for a in accounts:
        print(f"{a['username']:<19}{a['role']:<14}{a['password']:<18}{a['unit']}")
    return 0


def cmd_create_token(args) -> int:
    from sqlalchemy import select

    from hotline.auth import issue_token
    from models import User

    s = _settings()
    with Database(s.database_url).session() as session:
        user = session.scalar(select(User).where(User.username == args.username))
        if user is None:
            print(f"no such user: {args.username}", file=sys.stderr)
            return 1
        token = issue_token(session, user, args.name, args.days or s.token_days)
        from models.audit import record

        record(session, "api_token.create", "api_token", user.username, f"python -m hotline create-token ({args.name})",
               {"days": args.days or s.token_days}, actor_label="命令行")
    print(f"token for {args.username} (shown once; send as 'Authorization: Bearer <token>'):")
    print(token)
    return 0


def cmd_tokens(args) -> int:
    """``tokens list [--all] [--user U]`` and ``tokens revoke ID --reason …``."""
    from dispatch.errors import DomainError
    from hotline.security_admin import list_tokens, revoke_token, token_json
    from models import utcnow
    from models.audit import record

    s = _settings()
    with Database(s.database_url).session() as session:
        if args.tokens_command == "list":
            now = utcnow()
            rows = [token_json(t, now) for t in list_tokens(session, args.all, args.user)]
            print(f"{'id':>5}  {'user':<14}{'state':<14}{'expires (UTC)':<22}{'last used (UTC)':<22}name")
            for t in rows:
                print(f"{t['id']:>5}  {t['user']:<14}{t['state']:<14}{(t['expires_at'] or '—')[:19]:<22}"
                      f"{(t['last_used_at'] or '—')[:19]:<22}{t['name']}")
            print(f"{len(rows)} token(s)")
            return 0
        try:
            t = revoke_token(session, args.id)
        except DomainError as e:
            print(e.message, file=sys.stderr)
            return 1
        record(session, "api_token.revoke", "api_token", t.id, args.reason, {"user": t.user.username},
               actor_label="命令行")
        print(f"token {t.id} of {t.user.username} revoked")
    return 0


def cmd_audit_export(args) -> int:
    """The audit log as CSV (everything, or --since YYYY-MM-DD) on stdout or --out."""
    import csv
    import datetime as dt
    import json

    from sqlalchemy import select

    from models import AuditEvent
    from models.audit import record

    s = _settings()
    with Database(s.database_url).session() as session:
        q = select(AuditEvent).order_by(AuditEvent.id)
        if args.since:
            q = q.where(AuditEvent.at >= dt.datetime.fromisoformat(args.since).replace(tzinfo=dt.timezone.utc))
        out = open(args.out, "w", encoding="utf-8-sig", newline="") if args.out else sys.stdout
        w = csv.writer(out)
        w.writerow(["id", "at", "actor", "address", "action", "object_type", "object_id", "result", "reason",
                    "payload"])
        n = 0
        for e in session.scalars(q):
            w.writerow([e.id, e.at.isoformat(), e.actor_label, e.address, e.action, e.object_type, e.object_id,
                        e.result, e.reason, json.dumps(e.payload, ensure_ascii=False)])
            n += 1
        if args.out:
            out.close()
        record(session, "audit.export", "audit_log", "", "python -m hotline audit-export",
               {"rows": n, "since": args.since}, actor_label="命令行")
    print(f"{n} audit rows exported", file=sys.stderr)
    return 0


def warm_classifier() -> None:
    print("loading the classifier and the unit router (the first start trains them, a few minutes)…", flush=True)
    from classifier import get_predictor

    get_predictor()
    from classifier import units

    units.get_router()
    print("classifier and unit router ready", flush=True)


def start_periodic(app) -> bool:
    """The periodic sweeps run in the web process only on the embedded
    default; with REDIS_URL they run on rq cron beside the workers (every
    web process running them too would multiply them)."""
    from runtime import periodic

    if not app.config["HOTLINE"].inline_jobs:
        print("periodic jobs: on the rq workers (REDIS_URL is set)", flush=True)
        return False
    periodic.start_in_process(app.extensions["hotline.runtime"].periodic)
    print("periodic jobs: in this process (no REDIS_URL)", flush=True)
    return True


def cmd_serve(args) -> int:
    from hotline.app import create_app
    from hotline.realtime import socketio

    try:
        app = create_app(_settings())
    except DatabaseNotMigrated as e:
        print(str(e), file=sys.stderr)
        return 2
    warm_classifier()
    start_periodic(app)
    from hotline.realtime import async_mode, deliver_in_background

    deliver_in_background()
    if getattr(args, "production", False):
        return _serve_gevent(app, args.host, args.port, async_mode())
    print(f"serving on http://{args.host}:{args.port}/ (development server)", flush=True)
    socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True, use_reloader=False)
    return 0


def _serve_gevent(app, host: str, port: int, mode: str) -> int:
    """One production process: gevent's WSGI server, a greenlet per request
    and per open console, psycopg 3 waiting cooperatively (it sees the
    monkey-patching done in hotline/__main__.py)."""
    import resource

    if mode != "gevent":
        print("serve --production needs gevent's monkey-patching at start: run it as "
              "`python -m hotline serve --production`", file=sys.stderr)
        return 2
    import socket

    from gevent import pywsgi

    class Server(pywsgi.WSGIServer):
        def handle(self, sock, address):
            # pywsgi writes a response's headers and body separately: with
            # Nagle on, a kept-alive connection's second write waits for the
            # client's delayed ACK (40 ms a request).  Notices on WebSockets
            # are small writes too.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle(sock, address)

    # Every open console is a socket: allow as many as the hard limit does.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
    server = Server((host, port), app, log=None, backlog=2048)
    print(f"serving on http://{host}:{port}/ (production: gevent, one process)", flush=True)
    server.serve_forever()
    return 0


def cmd_demo(args) -> int:
    cmd_init_db(args)
    cmd_seed_demo(args)
    return cmd_serve(args)


def cmd_worker(args) -> int:
    from rq import Worker

    from runtime import jobs, periodic
    from hotline import wiring
    from hotline.realtime import external_emitter

    s = _settings()
    if not s.redis_url:
        print("REDIS_URL is not set: on the embedded default jobs run inline, no worker is needed",
              file=sys.stderr)
        return 2
    rt = wiring.boot(s)
    external_emitter(s.redis_url)
    conn = jobs.worker_connection()
    periodic.start_cron_thread(conn, rt.periodic)
    worker = Worker(list(jobs.QUEUES), connection=conn)
    worker.work(with_scheduler=True, burst=args.burst)
    return 0


def cmd_emergency_eval(args) -> int:
    """Figures of the emergency detector on a labelled CSV (no database)."""
    import json

    from threadpoolctl import threadpool_limits

    from classifier.emergency_eval import EvalDataError, errors, evaluate, format_text, read_rows

    try:
        rows = read_rows(args.data)
    except (EvalDataError, UnicodeDecodeError, csv_error()) as e:
        print(f"emergency-eval: {e}", file=sys.stderr)
        return 2
    # One text at a time: BLAS threads only fight over the two cores.
    with threadpool_limits(1):
        result = evaluate(rows)
        if args.errors:
            result["errors"] = errors(rows)
    print(json.dumps(result, ensure_ascii=False) if args.json else format_text(result))
    if args.errors and not args.json:
        for e in result["errors"]:
            print(f"  {'漏报' if e['emergency'] and not e['got'] else ('误报' if not e['emergency'] else '类别')}"
                  f" want={e['kind'] or '-'} got={e['got'] or '-'} p={e['confidence']} {e['text']}")
    return 0


def csv_error():
    import csv

    return csv.Error


def cmd_routing_eval(args) -> int:
    from hotline.routing_eval import main as routing_eval

    return routing_eval(args)


def cmd_wiring(args) -> int:
    """Print what this process is wired with (hooks, peers, periodic jobs)."""
    import json

    from hotline import wiring

    rt = wiring.boot(_settings())
    print(json.dumps(rt.describe(), ensure_ascii=False, indent=2, sort_keys=True))
    return 0


def cmd_calendar(args) -> int:
    """`calendar import FILE`: load the official year, recompute open dues
    (docs/sla.md); `calendar status`: years, provisional ones, pending dues."""
    import json

    from dispatch import dues
    from dispatch.calendar import CalendarError
    from hotline import wiring

    rt = wiring.boot(_settings())
    if args.calendar_command == "status":
        with rt.db.session() as session:
            print(json.dumps(dues.status(session), ensure_ascii=False, indent=2))
        return 0
    try:
        r = dues.import_year(rt.db, args.file, rt.tickets, by=args.by, dry_run=args.dry_run)
    except (CalendarError, OSError) as e:
        print(f"日历文件无效 / invalid calendar file: {e}", file=sys.stderr)
        return 2
    kind = "provisional" if r["provisional"] else "official"
    if r["dry_run"]:
        print(f"{r['year']} ({kind}) is valid; {r['tickets']} open tickets would be recomputed (dry run)")
    else:
        print(f"{r['year']} ({kind}) imported; {r['tickets']} open tickets checked: {r['changed']} dues "
              f"recomputed (recompute_dues events), {r['unchanged']} unchanged")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    p = argparse.ArgumentParser(prog="python -m hotline", description="12345 热线工单服务")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init-db", help="create or migrate the database named by DATABASE_URL").set_defaults(fn=cmd_init_db)
    sub.add_parser("seed-demo", help="load demo units, categories, routing and accounts").set_defaults(fn=cmd_seed_demo)
    t = sub.add_parser("create-token", help="print a new API token for USERNAME (last line)")
    t.add_argument("username")
    t.add_argument("--name", default="cli")
    t.add_argument("--days", type=int, default=None, help="lifetime in days (default HOTLINE_TOKEN_DAYS, 90)")
    t.set_defaults(fn=cmd_create_token)
    tk = sub.add_parser("tokens", help="list or revoke API tokens")
    tsub = tk.add_subparsers(dest="tokens_command", required=True)
    tl = tsub.add_parser("list", help="live tokens (--all: revoked and expired too)")
    tl.add_argument("--all", action="store_true")
    tl.add_argument("--user", default=None)
    tr = tsub.add_parser("revoke", help="revoke token ID")
    tr.add_argument("id", type=int)
    tr.add_argument("--reason", required=True)
    tk.set_defaults(fn=cmd_tokens)
    ae = sub.add_parser("audit-export", help="write the audit log as CSV")
    ae.add_argument("--since", default=None, help="YYYY-MM-DD (UTC)")
    ae.add_argument("--out", default=None, help="file (default: stdout)")
    ae.set_defaults(fn=cmd_audit_export)
    for name, fn in (("serve", cmd_serve), ("demo", cmd_demo)):
        sp = sub.add_parser(name, help="serve the console and API" if name == "serve"
                            else "init-db + seed-demo + serve")
        sp.add_argument("--host", default="127.0.0.1")
        sp.add_argument("--port", type=int, default=5000)
        if name == "serve":
            sp.add_argument("--production", action="store_true",
                            help="gevent server: thousands of open consoles per process (docs/deployment.md)")
        sp.set_defaults(fn=fn)
    re_ = sub.add_parser("routing-eval", help="measure unit routing on a CSV of text,unit[,address]")
    re_.add_argument("--data", required=True, help="CSV with columns text,unit (and optional address)")
    re_.add_argument("--json", action="store_true", help="print one JSON object")
    re_.set_defaults(fn=cmd_routing_eval)
    sub.add_parser("wiring", help="print the hooks, peers and periodic jobs every process is wired with"
                   ).set_defaults(fn=cmd_wiring)
    w = sub.add_parser("worker", help="run an rq worker with the scheduler (needs REDIS_URL)")
    w.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    w.set_defaults(fn=cmd_worker)
    e = sub.add_parser("emergency-eval", help="emergency detector figures on FILE.csv (text,emergency[,kind])")
    e.add_argument("--data", required=True, help="CSV with columns text,emergency and optionally kind")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--errors", action="store_true", help="also list the misses and false alarms")
    e.set_defaults(fn=cmd_emergency_eval)
    cal = sub.add_parser("calendar", help="working-day calendar: import FILE (official year), status")
    cal_sub = cal.add_subparsers(dest="calendar_command", required=True)
    ci = cal_sub.add_parser("import", help="load <year>.json and recompute every open due it changes")
    ci.add_argument("file")
    ci.add_argument("--by", default="命令行", help="who imports it (recorded in the audit log)")
    ci.add_argument("--dry-run", action="store_true", help="validate and count, change nothing")
    cal_sub.add_parser("status", help="years in force, provisional years, pending dues")
    cal.set_defaults(fn=cmd_calendar)
    args = p.parse_args(argv)
    return args.fn(args)
