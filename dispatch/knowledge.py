"""The knowledge base (知识库) as the running service sees it: search (jieba
words, BM25 over the question and, weaker, the answer; an index per
process rebuilt when an entry changes), the admin's operations (add, edit,
disable, enable; each a new version with a ``KnowledgeRevision`` and an
audit event) and the check a direct answer (直办) makes on the entry it
cites.

Search: the query and every entry are segmented by jieba in search mode
(``cut_for_search``: 医疗保险 also gives 医疗, 保险), without stop words,
numbers and single characters; an entry's words are stored with it
(``terms``), so an index is a dictionary built in well under a second.
Score = BM25(question + detail) + ANSWER_WEIGHT × BM25(answer), k1 = 1.2,
b = 0.75.  Only active entries valid today (Beijing date) are found."""
from __future__ import annotations

import datetime as dt
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.errors import Conflict, Invalid, NotFound
from models import Category, KnowledgeEntry, KnowledgeRevision, Unit, utcnow

CHECK_SECONDS = 2.0
ANSWER_WEIGHT = 0.3
K1, B = 1.2, 0.75
QUERY_MAX_CHARS = 2000
BEIJING = dt.timezone(dt.timedelta(hours=8))
_NOT_A_WORD = re.compile(r"^[\W\d_a-z#]+$")
FIELDS = ("question", "detail", "answer", "category", "unit_code", "valid_from", "valid_until", "source")


def words(text: str) -> list[str]:
    """jieba words (search mode) of a text, as the index stores them."""
    import jieba

    from classifier.text import ensure_jieba, normalize, stop_words

    ensure_jieba()
    stops = stop_words()
    return [w for w in jieba.cut_for_search(normalize(text)[:QUERY_MAX_CHARS * 3])
            if len(w) >= 2 and w not in stops and not _NOT_A_WORD.match(w)]


def terms_of(question: str, detail: str, answer: str) -> str:
    """The stored ``terms``: question and detail words, a tab, answer words."""
    return " ".join(words(question + " " + question + " " + detail)) + "\t" + " ".join(words(answer))


@dataclass
class _Doc:
    id: int
    q: Counter
    a: Counter
    qlen: int
    alen: int
    valid_from: dt.date | None
    valid_until: dt.date | None


class Index:
    def __init__(self, docs: list[_Doc]):
        self.docs = docs
        self.post: dict[str, list[int]] = {}
        for i, d in enumerate(docs):
            for w in set(d.q) | set(d.a):
                self.post.setdefault(w, []).append(i)
        n = max(len(docs), 1)
        self.avg_q = sum(d.qlen for d in docs) / n or 1.0
        self.avg_a = sum(d.alen for d in docs) / n or 1.0
        self.n = len(docs)

    @classmethod
    def from_rows(cls, rows) -> "Index":
        docs = []
        for id_, terms, vf, vu in rows:
            q, _, a = (terms or "").partition("\t")
            qw, aw = q.split(), a.split()
            docs.append(_Doc(id_, Counter(qw), Counter(aw), len(qw), len(aw), vf, vu))
        return cls(docs)

    def search(self, query_words: list[str], limit: int = 5, today: dt.date | None = None) -> list[tuple[int, float]]:
        scores: dict[int, float] = {}
        for w in set(query_words):
            hits = self.post.get(w)
            if not hits:
                continue
            idf = math.log(1 + (self.n - len(hits) + 0.5) / (len(hits) + 0.5))
            for i in hits:
                d = self.docs[i]
                s = 0.0
                tf = d.q.get(w, 0)
                if tf:
                    s += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * d.qlen / self.avg_q))
                tf = d.a.get(w, 0)
                if tf:
                    s += ANSWER_WEIGHT * idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * d.alen / self.avg_a))
                scores[i] = scores.get(i, 0.0) + s
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], self.docs[kv[0]].id))
        out = []
        for i, s in ranked:
            d = self.docs[i]
            if today is not None and ((d.valid_from and d.valid_from > today) or (d.valid_until and d.valid_until < today)):
                continue
            out.append((d.id, round(s, 4)))
            if len(out) >= limit:
                break
        return out


_lock = threading.Lock()
_cache: dict[str, tuple] = {}


def _stamp(session: Session) -> tuple:
    return tuple(session.execute(select(func.count(KnowledgeEntry.id), func.max(KnowledgeEntry.updated_at),
                                        func.sum(KnowledgeEntry.version))).one())


def current(session: Session) -> Index:
    """The index of the active entries; rebuilt when an entry changed
    (checked at most every CHECK_SECONDS; at once after this process's own change)."""
    now = time.monotonic()
    cached = _cache.get("index")
    if cached is not None and now - cached[2] < CHECK_SECONDS:
        return cached[1]
    stamp = _stamp(session)
    if cached is not None and cached[0] == stamp:
        _cache["index"] = (stamp, cached[1], now)
        return cached[1]
    rows = session.execute(select(KnowledgeEntry.id, KnowledgeEntry.terms, KnowledgeEntry.valid_from,
                                  KnowledgeEntry.valid_until).where(KnowledgeEntry.active.is_(True))).all()
    index = Index.from_rows(rows)
    with _lock:
        _cache["index"] = (stamp, index, now)
    return index


def invalidate() -> None:
    with _lock:
        _cache.clear()


def beijing_today() -> dt.date:
    return utcnow().astimezone(BEIJING).date()


def search(session: Session, q: str, limit: int = 5) -> list[tuple[KnowledgeEntry, float]]:
    found = current(session).search(words(q[:QUERY_MAX_CHARS]), limit, beijing_today())
    if not found:
        return []
    by_id = {e.id: e for e in session.scalars(select(KnowledgeEntry).where(
        KnowledgeEntry.id.in_([i for i, _ in found])))}
    return [(by_id[i], s) for i, s in found if i in by_id]


# ------------------------------------------------------------------ JSON
def unit_names(session: Session) -> dict[str, str]:
    names = dict(session.execute(select(Unit.code, Unit.name)).all())
    names["district"] = "属地区县人民政府"
    return names


def describe(e: KnowledgeEntry, units: dict[str, str], score: float | None = None) -> dict:
    out = {"id": e.id, "question": e.question, "detail": e.detail, "answer": e.answer,
           "matter": ({"code": e.category.code, "full_name": e.category.full_name} if e.category else None),
           "unit": ({"code": e.unit_code, "name": units.get(e.unit_code, e.unit_code)} if e.unit_code else None),
           "valid_from": e.valid_from.isoformat() if e.valid_from else None,
           "valid_until": e.valid_until.isoformat() if e.valid_until else None,
           "source": e.source, "active": e.active, "version": e.version,
           "updated_at": e.updated_at.isoformat() if e.updated_at else None}
    if score is not None:
        out["score"] = score
    return out


def revision_json(r: KnowledgeRevision) -> dict:
    return {"version": r.version, "at": r.at.isoformat(), "actor": r.actor_label, "action": r.action,
            "reason": r.reason, "changes": r.changes}


# ------------------------------------------------------------------ admin
def _date(v, name: str, errors: dict) -> dt.date | None:
    if v in (None, ""):
        return None
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        errors[name] = "日期格式应为 YYYY-MM-DD"
        return None


def _checked(session: Session, fields: dict, entry: KnowledgeEntry | None) -> dict:
    """The new values of the given fields, checked; Invalid naming each bad one (in Chinese)."""
    errors: dict[str, str] = {}
    out: dict = {}
    cur = (lambda k: getattr(entry, k)) if entry is not None else (lambda k: None)
    for key in ("question", "answer"):
        if key in fields or entry is None:
            v = (fields.get(key) or "").strip()
            limit = 300 if key == "question" else 5000
            if not v:
                errors[key] = ("问题" if key == "question" else "答复内容") + "不能为空"
            elif len(v) > limit:
                errors[key] = ("问题" if key == "question" else "答复内容") + f"不能超过 {limit} 字（现 {len(v)} 字）"
            out[key] = v
    if "detail" in fields:
        out["detail"] = (fields.get("detail") or "").strip()[:2000]
    if "source" in fields:
        out["source"] = (fields.get("source") or "").strip()[:200]
    if "category" in fields:
        name = (fields.get("category") or "").strip()
        if name:
            cat = session.scalar(select(Category).where((Category.full_name == name) | (Category.code == name)))
            if cat is None:
                errors["category"] = f"未知的事项分类“{name}”"
            else:
                out["category_id"] = cat.id
        else:
            out["category_id"] = None
    if "unit_code" in fields:
        code = (fields.get("unit_code") or "").strip()
        if code and code != "district" and session.scalar(select(Unit.id).where(Unit.code == code)) is None:
            errors["unit_code"] = f"未知的单位编码“{code}”"
        out["unit_code"] = code
    for key in ("valid_from", "valid_until"):
        if key in fields:
            out[key] = _date(fields.get(key), key, errors)
    vf = out.get("valid_from", cur("valid_from"))
    vu = out.get("valid_until", cur("valid_until"))
    if vf and vu and vu < vf and "valid_until" not in errors:
        errors["valid_until"] = "有效期止不能早于有效期起"
    if errors:
        raise Invalid("知识条目有误：" + "；".join(errors.values()), errors)
    return out


def _plain(v):
    return v.isoformat() if isinstance(v, dt.date) else v


def _record(session, e: KnowledgeEntry, action: str, reason: str, changes: dict, actor_id, actor_label,
            address: str = "") -> None:
    from models.audit import record

    session.add(KnowledgeRevision(entry_id=e.id, version=e.version, at=e.updated_at, actor_id=actor_id,
                                  actor_label=actor_label, action=action, reason=reason, changes=changes))
    record(session, f"knowledge_entry.{action}", "knowledge_entry", e.id, reason,
           payload={"version": e.version, "question": e.question[:100], "fields": sorted(changes)},
           actor_id=actor_id, actor_label=actor_label, address=address)
    invalidate()


def create(session: Session, fields: dict, reason: str = "", actor_id: int | None = None,
           actor_label: str = "", address: str = "") -> KnowledgeEntry:
    v = _checked(session, fields, None)
    now = utcnow()
    e = KnowledgeEntry(question=v["question"], answer=v["answer"], detail=v.get("detail", ""),
                       category_id=v.get("category_id"), unit_code=v.get("unit_code", ""),
                       valid_from=v.get("valid_from"), valid_until=v.get("valid_until"),
                       source=v.get("source") or "管理员录入", active=True, version=1,
                       created_at=now, updated_at=now, created_by_id=actor_id)
    e.terms = terms_of(e.question, e.detail, e.answer)
    session.add(e)
    session.flush()
    _record(session, e, "create", reason, {k: [None, _plain(x)] for k, x in v.items()}, actor_id, actor_label,
            address)
    session.refresh(e)
    return e


def _locked(session: Session, entry_id: int) -> KnowledgeEntry:
    e = session.scalar(select(KnowledgeEntry).where(KnowledgeEntry.id == entry_id)
                       .with_for_update(of=KnowledgeEntry))
    if e is None:
        raise NotFound("知识条目不存在")
    return e


def update(session: Session, entry_id: int, fields: dict, reason: str, expected_version: int | None = None,
           actor_id: int | None = None, actor_label: str = "", address: str = "") -> KnowledgeEntry:
    e = _locked(session, entry_id)
    if expected_version is not None and e.version != expected_version:
        raise Conflict("该条目已被他人修改，请刷新", code="stale_version",
                       current={"version": e.version})
    if not (reason or "").strip():
        raise Invalid("请填写修改原因", {"reason": "修改原因不能为空"})
    v = _checked(session, fields, e)
    changes = {k: [_plain(getattr(e, k)), _plain(x)] for k, x in v.items() if getattr(e, k) != x}
    if not changes:
        return e
    for k, x in v.items():
        setattr(e, k, x)
    if {"question", "detail", "answer"} & set(changes):
        e.terms = terms_of(e.question, e.detail, e.answer)
    e.version += 1
    e.updated_at = utcnow()
    _record(session, e, "update", reason.strip(), changes, actor_id, actor_label, address)
    session.flush()
    session.refresh(e)
    return e


def set_active(session: Session, entry_id: int, active: bool, reason: str, actor_id: int | None = None,
               actor_label: str = "", address: str = "") -> KnowledgeEntry:
    e = _locked(session, entry_id)
    if not (reason or "").strip():
        raise Invalid("请填写" + ("启用" if active else "停用") + "原因", {"reason": "原因不能为空"})
    if e.active != active:
        e.active = active
        e.version += 1
        e.updated_at = utcnow()
        _record(session, e, "enable" if active else "disable", reason.strip(), {"active": [not active, active]},
                actor_id, actor_label, address)
    return e


def history(session: Session, entry_id: int) -> list[dict]:
    e = session.get(KnowledgeEntry, entry_id)
    if e is None:
        raise NotFound("知识条目不存在")
    revs = session.scalars(select(KnowledgeRevision).where(KnowledgeRevision.entry_id == entry_id)
                           .order_by(KnowledgeRevision.version.desc(), KnowledgeRevision.id.desc())).all()
    out = [revision_json(r) for r in revs]
    if not any(r.version == 1 for r in revs):
        out.append({"version": 1, "at": e.created_at.isoformat(), "actor": "", "action": "seed",
                    "reason": f"随演示数据导入（{e.source}）", "changes": {}})
    return out


# ------------------------------------------------------------------ direct answer
def cited(session: Session, entry_id) -> dict:
    """What a direct answer (直办) records of the entry it answers from; the
    entry must exist, be active and be valid today."""
    try:
        entry_id = int(entry_id)
    except (TypeError, ValueError):
        raise Invalid("知识条目编号应为整数", {"knowledge_id": "应为整数"}) from None
    e = session.get(KnowledgeEntry, entry_id)
    if e is None:
        raise Invalid("引用的知识条目不存在", {"knowledge_id": "知识条目不存在"})
    today = beijing_today()
    if not e.active or (e.valid_from and e.valid_from > today) or (e.valid_until and e.valid_until < today):
        raise Invalid("引用的知识条目已停用或不在有效期内", {"knowledge_id": "已停用或已过期"})
    return {"knowledge_id": e.id, "knowledge_version": e.version, "knowledge_question": e.question[:300]}
