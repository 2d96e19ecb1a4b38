"""Finding tickets: the paged, sorted, filtered ticket list behind every list
in the console and ``GET /api/v1/tickets``, and the search it offers.

``q`` matches, in one box:

- a ticket number (exact);
- a caller's phone, whole (digits only, so ``138 0013 8000`` finds
  ``13800138000``) or its last four digits (``phone_tail``);
- a caller's name (exact);
- words of the subject, description and address.  The text is cut into
  words with jieba (its plain dictionary, no HMM guessing); a Chinese word
  is kept as its pairs of adjacent characters (路灯不亮 → 路灯 灯不 不亮),
  everything else (numbers, Latin words, a lone character) as jieba's word.
  A query's run of Chinese characters becomes its pairs too, so 路灯 finds
  路灯不亮 whichever way jieba cut the sentence around it (a substring
  search, as a person expects of a search box); every term of the query
  must occur.  The
  terms are kept, space-separated, in ``tickets.search_text``.  PostgreSQL
  indexes them as a tsvector (``array_to_tsvector`` over the terms: the
  lexemes are the terms as they are, the 'simple' configuration with jieba
  as its parser, whatever the server's locale would do to CJK) in a GIN
  index; SQLite, the embedded default, keeps an FTS5 table in step by
  triggers (migration 0012).

What a reader may match follows what it may see (``dispatch.access``):
a handling unit sees only its own tickets, reads phone numbers masked to
their last four digits and never sees a confidential (保密) caller, so for
it a query never matches a whole phone number, and never matches the name or
phone of a confidential caller: a search must not tell what the ticket
itself hides.

``search_text`` and ``phone_tail`` are filled whenever a ticket is written
(the mapper events below), whoever writes it; bench/generate.py fills them
itself for its COPY load.
"""
from __future__ import annotations

import datetime as dt
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Mapping

from sqlalchemy import String, and_, case, cast, event, false, func, inspect, literal, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from dispatch import workflow
from dispatch.access import Actor, visible_clause
from dispatch.calendar import LOCAL_TZ
from dispatch.errors import DomainError
from models import CHANNELS, STATUSES, URGENCIES, Category, Ticket

PER_PAGE_MAX = 100
PER_PAGE_DEFAULT = 20
MAX_PAGE = 100_000
Q_MAX = 100
TOKEN_MAX = 64
WORDS_MAX = 24
#: The department's 待办: the tickets whose clock runs on it (or paused on it).
TODO = tuple(sorted(workflow.CLOCKED))
URGENCY_ORDER = ("emergency", "utility", "general", "complex")
#: The query parameters of the list (hotline/openapi.py documents them).
LIST_PARAMS = ("q", "status", "urgency", "unit", "category", "channel", "created_from", "created_to",
               "overdue", "needs_review", "mine", "sort", "page", "per_page")
SORTS = ("created", "due", "updated", "urgency", "number")


class BadParameter(DomainError):
    """400: a query parameter the list cannot take."""
    status, code = 400, "bad_parameter"


# ------------------------------------------------------------ words

_WORDLIKE = re.compile(r"\w", re.UNICODE)
_DIGITS = re.compile(r"\D+")


def _normal(text_: str) -> str:
    return unicodedata.normalize("NFKC", text_ or "").lower()


_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_tokenizer = None
_tokenizer_lock = threading.Lock()


def _jieba():
    """jieba's own tokenizer with its plain dictionary: not the classifier's
    (classifier.text adds category terms with high weights, which cut
    "路灯不亮" as 路 / 灯不亮 and would hide 路灯 from a search)."""
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                tk = jieba.Tokenizer()
                tk.initialize()
                _tokenizer = tk
    return _tokenizer


def _bigrams(run: str) -> list[str]:
    return [run[i:i + 2] for i in range(len(run) - 1)]


def _keep(words) -> list[str]:
    out, seen = [], set()
    for w in words:
        w = w.strip()[:TOKEN_MAX]
        if w and _WORDLIKE.search(w) and w not in seen and " " not in w:
            seen.add(w)
            out.append(w)
    return out


def index_words(*texts: str) -> str:
    """The terms a ticket is found by, space-separated: jieba's words that
    are not Chinese (numbers, Latin words) or a single Chinese character,
    and every pair of adjacent Chinese characters (which covers each longer
    jieba word however jieba cut the ticket's sentence)."""
    tk = _jieba()
    words: list[str] = []
    for t in texts:
        if not t:
            continue
        t = _normal(t)
        words += [w for w in tk.cut_for_search(t, HMM=False) if not _CJK_RUN.fullmatch(w) or len(w) == 1]
        for run in _CJK_RUN.findall(t):
            words += _bigrams(run)
    return " ".join(_keep(words))


def query_words(q: str) -> list[str]:
    """The terms of a query, each of which must occur: a run of Chinese
    characters as its pairs (so it is found as a substring, as a person
    expects of a search box), a lone Chinese character and anything else as
    jieba's words."""
    terms: list[str] = []
    for part in re.split(f"({_CJK_RUN.pattern})", _normal(q)):
        if _CJK_RUN.fullmatch(part) and len(part) > 1:
            terms += _bigrams(part)
        elif part.strip():
            terms += _jieba().cut(part, HMM=False)
    return _keep(terms)[:WORDS_MAX]


def phone_digits(phone: str) -> str:
    return _DIGITS.sub("", _normal(phone))


def phone_tail(phone: str) -> str:
    d = phone_digits(phone)
    return d[-4:] if len(d) >= 4 else ""


@event.listens_for(Ticket, "before_insert")
def _fill_on_insert(mapper, connection, t: Ticket) -> None:
    t.search_text = index_words(t.subject, t.description, t.address)
    t.phone_tail = phone_tail(t.caller_phone or "")


@event.listens_for(Ticket, "before_update")
def _fill_on_update(mapper, connection, t: Ticket) -> None:
    state = inspect(t)
    if any(state.attrs[k].history.has_changes() for k in ("subject", "description", "address")):
        t.search_text = index_words(t.subject, t.description, t.address)
    if state.attrs["caller_phone"].history.has_changes():
        t.phone_tail = phone_tail(t.caller_phone or "")


def _tsquery(words: list[str]) -> str:
    """A tsquery in its input syntax: quoted lexemes taken as they are."""
    return " & ".join("'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words)


def words_clause(s: Session, words: list[str]) -> ColumnElement[bool]:
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import TSQUERY

        vector = func.array_to_tsvector(func.string_to_array(Ticket.search_text, literal(" ", String)))
        return vector.op("@@")(cast(literal(_tsquery(words), String), TSQUERY))
    match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
    return Ticket.id.in_(select(text("rowid")).select_from(text("ticket_search"))
                         .where(text("ticket_search MATCH :match").bindparams(match=match)))


# ------------------------------------------------------------ the list

@dataclass
class ListQuery:
    q: str = ""
    statuses: list[str] = field(default_factory=list)
    urgencies: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    unit_id: int | None = None
    category: str | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    overdue: bool = False
    needs_review: bool = False
    mine: bool = False
    sort: str = "-created"
    page: int = 1
    per_page: int = PER_PAGE_DEFAULT


def list_args(args: Mapping[str, str]) -> ListQuery:
    """A ListQuery from query parameters; BadParameter names every bad one."""
    bad: dict[str, str] = {}
    get = lambda k: (args.get(k) or "").strip()  # noqa: E731

    def listed(name: str, allowed) -> list[str]:
        raw = get(name)
        if not raw:
            return []
        vals = [v.strip() for v in raw.split(",") if v.strip()]
        if name == "status" and vals == ["todo"]:
            return list(TODO)
        unknown = [v for v in vals if v not in allowed]
        if unknown:
            bad[name] = "未知取值：" + "，".join(unknown)[:100]
        return vals

    def integer(name: str, default: int | None, lo: int, hi: int) -> int | None:
        raw = get(name)
        if not raw:
            return default
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or not lo <= int(raw) <= hi:
            bad[name] = f"应为 {lo}–{hi} 的整数"
            return default
        return int(raw)

    def day(name: str) -> dt.date | None:
        raw = get(name)
        if not raw:
            return None
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                raise ValueError
            return dt.date.fromisoformat(raw)
        except ValueError:
            bad[name] = "日期格式应为 YYYY-MM-DD"
            return None

    def flag(name: str) -> bool:
        raw = get(name).lower()
        if raw in ("", "0", "false"):
            return False
        if raw in ("1", "true"):
            return True
        bad[name] = "应为 1/0 或 true/false"
        return False

    q = get("q")
    if len(q) > Q_MAX:
        bad["q"] = f"不超过 {Q_MAX} 个字符"
    sort = get("sort") or "-created"
    if sort.lstrip("-") not in SORTS:
        bad["sort"] = "可选：" + "、".join(f"{k}/-{k}" for k in SORTS)
    category = get("category") or None
    if category and not (category.isascii() and category.isdigit() and len(category) <= 16):
        bad["category"] = "应为分类代码（数字）"
    lq = ListQuery(
        q=q[:Q_MAX], statuses=listed("status", STATUSES), urgencies=listed("urgency", URGENCIES),
        channels=listed("channel", CHANNELS), unit_id=integer("unit", None, 1, 2**31 - 1), category=category,
        created_from=day("created_from"), created_to=day("created_to"), overdue=flag("overdue"),
        needs_review=flag("needs_review"), mine=flag("mine"), sort=sort,
        page=integer("page", 1, 1, MAX_PAGE), per_page=integer("per_page", PER_PAGE_DEFAULT, 1, PER_PAGE_MAX))
    if lq.created_from and lq.created_to and lq.created_from > lq.created_to:
        bad["created_to"] = "不早于起始日期"
    if bad:
        raise BadParameter("查询参数有误：" + "；".join(f"{k} {v}" for k, v in bad.items()), bad)
    return lq


def _local_midnight(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time(), tzinfo=LOCAL_TZ).astimezone(dt.timezone.utc)


def search_clause(s: Session, actor: Actor, q: str) -> ColumnElement[bool]:
    """What ``q`` matches, for this reader (module docstring)."""
    q = q.strip()
    sees_identity = actor.on_platform
    open_caller = Ticket.confidential.is_(False)
    parts: list[ColumnElement[bool]] = [Ticket.number == q]
    digits = phone_digits(q)
    if digits and re.fullmatch(r"[\d\s+\-()]+", q):
        if len(digits) == 4:
            parts.append(and_(Ticket.phone_tail == digits, *(() if sees_identity else (open_caller,))))
        elif len(digits) >= 5 and sees_identity:
            parts.append(Ticket.caller_phone == q)
            if digits != q:
                parts.append(Ticket.caller_phone == digits)
    parts.append(Ticket.caller_name == q if sees_identity else and_(Ticket.caller_name == q, open_caller))
    words = query_words(q)
    if words:
        parts.append(words_clause(s, words))
    return or_(*parts)


def _deadline():
    """The next deadline of a ticket: signing for while dispatched, else closing."""
    return case((Ticket.status == "dispatched", func.coalesce(Ticket.sign_due_at, Ticket.due_at)),
                else_=Ticket.due_at)


def _order(sort: str):
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    if key == "urgency":
        col = case({u: i for i, u in enumerate(URGENCY_ORDER)}, value=Ticket.urgency, else_=len(URGENCY_ORDER))
        # urgency: the most urgent first, then the oldest
        return [col.desc() if desc else col, Ticket.created_at.asc(), Ticket.id.asc()]
    if key == "due":
        col = _deadline()
        return [col.is_(None), col.desc() if desc else col.asc(), Ticket.id.asc()]
    col = {"created": Ticket.created_at, "updated": Ticket.updated_at, "number": Ticket.number}[key]
    return [col.desc(), Ticket.id.desc()] if desc else [col.asc(), Ticket.id.asc()]


def conditions(s: Session, actor: Actor, lq: ListQuery, now: dt.datetime) -> list[ColumnElement[bool]]:
    cond: list[ColumnElement[bool]] = [visible_clause(actor)]
    if lq.statuses:
        cond.append(Ticket.status.in_(lq.statuses))
    if lq.urgencies:
        cond.append(Ticket.urgency.in_(lq.urgencies))
    if lq.channels:
        cond.append(Ticket.channel.in_(lq.channels))
    if lq.unit_id is not None:
        cond.append(Ticket.responsible_unit_id == lq.unit_id)
    if lq.category:
        cond.append(Ticket.category_id.in_(select(Category.id).where(Category.code.startswith(lq.category))))
    if lq.created_from:
        cond.append(Ticket.created_at >= _local_midnight(lq.created_from))
    if lq.created_to:
        cond.append(Ticket.created_at < _local_midnight(lq.created_to + dt.timedelta(days=1)))
    if lq.overdue:
        cond.append(or_(and_(Ticket.status.in_(TODO), Ticket.due_at < now),
                        and_(Ticket.status == "dispatched", Ticket.sign_due_at < now)))
    if lq.needs_review:
        cond.append(Ticket.needs_review.is_(True))
    if lq.mine:
        cond.append(Ticket.created_by_id == actor.user_id if actor.user_id is not None else false())
    if lq.q:
        cond.append(search_clause(s, actor, lq.q))
    return cond


@dataclass
class Page:
    items: list[Ticket]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def find(s: Session, actor: Actor, lq: ListQuery, now: dt.datetime) -> Page:
    """One page of the tickets ``actor`` may see that match ``lq``, and how
    many match in all."""
    cond = conditions(s, actor, lq, now)
    total = s.scalar(select(func.count(Ticket.id)).where(*cond)) or 0
    rows = s.scalars(select(Ticket).where(*cond).order_by(*_order(lq.sort))
                     .offset((lq.page - 1) * lq.per_page).limit(lq.per_page)).unique().all()
    return Page(list(rows), total, lq.page, lq.per_page)
