"""Builds the shipped knowledge base (data/knowledge/entries.csv.gz) from
the government's written replies in the platform data (unlabelled.csv,
``source = messages_with_replies``).  Offline, run once by hand:

    python -m dispatch.knowledge_build --unlabelled ../shared/data/complaints/unlabelled.csv

Cleaning (the rules, in order; docs in data/knowledge/PROVENANCE.md):

1. whitespace folded, the export's ``_x000D_`` removed;
2. the opening cut: a salutation (网友“UU…”您好！, 来信同志：你好), an
   acknowledgement (您的留言已收悉) and the lead-in of the answer
   (现将有关情况回复如下：) — whatever stands before the last such phrase in
   the first 160 characters;
3. the closing cut, repeated: the date (2019年9月19日), a signature (an
   organisation name after the last full stop) and the thanks
   (感谢您对我们工作的关心与支持！);
4. dropped: fewer than 30 characters left (留言已收悉), or a hand-over
   without an answer (已转L6县调查、核处 in under 120 characters);
5. the question is the message's subject; ``detail`` its body (salutation
   to a named official cut, at most 600 characters).

The unit is the one the reply names (classifier.replies.label_reply: the
government's own text, not a model); the matter is the strongest
通俗化词条 (data/routing/lexicon.csv) in the question that agrees with the
unit, else the strongest one at all, else the broadest matter the routing
catalogue gives the unit, else none."""
from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

from classifier import lexicon as lx
from classifier.replies import label_reply
from dispatch.knowledge import terms_of

DATA = Path(__file__).resolve().parent.parent / "data" / "knowledge"
COLUMNS = ["message_id", "question", "detail", "answer", "matter", "unit", "posted_at", "replied_at", "terms"]

_SPACE = re.compile(r"\s+")
_LEAD_IN = re.compile(r"(?:回复|答复|函复|说明|回答)如下\s*[：:。，,]?|(?:作|做)如下(?:回复|答复)\s*[：:。，,]?")
_RECEIVED = re.compile(r"(?:已|均已|我们已)?(?:收悉|收到|获悉|知悉)\s*[，,。.！!；;]")
_SALUTATION = re.compile(
    r"^\s*(?:(?:尊敬的|亲爱的)?[^，,：:！!。]{0,24}?)(?:您好|你好)\s*[！!，,。.：:]?\s*")
_THANKS = re.compile(r"(?:(?<=[。！!；;])|^)\s*(?:(?:再次|最后)?[，,]?(?:衷心)?(?:感谢|谢谢|欢迎)(?:您|你)?[^。！!]{0,40}?"
                     r"(?:关心|支持|理解|监督|关注|信任|厚爱|建议|咨询|来电|留言)[^。！!]{0,20}?"
                     r"|特此(?:回复|答复|函复)|此复|祝[^。！!]{0,12})[。！!]?\s*$")
_DATE = re.compile(r"[（(]?\s*\d{4}\s*[年.\-/]\s*\d{1,2}\s*[月.\-/]\s*\d{1,2}\s*日?\s*[）)]?\s*[。.]?\s*$")
_SIGN = re.compile(r"(?<=[。！!；;])\s*[^。！!，,；;：:]{2,40}$")
_ORG_END = re.compile(r"(?:局|厅|委员会|委|大队|支队|中队|办事处|政府|办公室|派出所|中心|公司|管理处|站|所|院|办|室|组|部|队|会|处|科)\s*$")
_HANDOVER = re.compile(r"已(?:转|转交|转至|交由|批转|移交|汇报|转给|转办)|转(?:交|至)?[^。]{0,24}(?:调查|核处|办理|处理|核实|回复)")
_TO_OFFICIAL = re.compile(r"^\s*[^，,：:！!。]{1,12}[：:，,]\s*(?:您好|你好)\s*[！!，,。.：:]?\s*")


def fold(text: str) -> str:
    return _SPACE.sub(" ", (text or "").replace("_x000D_", " ")).strip()


def clean_answer(reply: str) -> str:
    t = fold(reply)
    head = t[:160]
    cut = max([m.end() for m in _LEAD_IN.finditer(head)] + [0])
    if not cut:
        cut = max([m.end() for m in _RECEIVED.finditer(head[:90])] + [0])
    if cut:
        t = t[cut:]
    else:
        t = _SALUTATION.sub("", t, count=1)
    for _ in range(4):
        before = t
        t = _DATE.sub("", t).strip()
        m = _SIGN.search(t)
        if m and _ORG_END.search(m.group(0)):
            t = t[:m.start()].strip()
        t = _THANKS.sub("", t).strip()
        if t == before:
            break
    return t.strip(" ，,；;")


def non_answer(answer: str) -> str | None:
    """Why a cleaned reply is no answer, or None."""
    if len(answer) < 30:
        return "too_short"
    if _HANDOVER.search(answer) and len(answer) < 120:
        return "handover"
    return None


def clean_question(subject: str, body: str) -> tuple[str, str]:
    return fold(subject)[:300], _TO_OFFICIAL.sub("", fold(body), count=1)[:600]


def matter_for(text: str, unit: str | None, lexicon: lx.Lexicon, catalogue: dict[str, str]) -> str:
    best, best_w, any_best, any_w = "", 0.0, "", 0.0
    for h in lexicon.match(text):
        w = lx.hit_weight(h) + (0.5 if h.in_head else 0.0)
        if unit and h.entry.unit == unit and w > best_w:
            best, best_w = h.entry.matter, w
        if w > any_w:
            any_best, any_w = h.entry.matter, w
    if best:
        return best
    if unit:
        home = sorted((m for m, u in catalogue.items() if u == unit), key=lambda m: (m.count("/"), m))
        if home:
            return home[0]
    return any_best


def build(unlabelled_csv: str) -> tuple[list[dict], dict[str, int]]:
    lexicon = lx.Lexicon(lx.read_csv())
    catalogue = lx.read_catalogue()
    rows, dropped, seen = [], {"too_short": 0, "handover": 0, "repeat": 0}, set()
    with open(unlabelled_csv, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            if r.get("source") != "messages_with_replies" or not (r.get("reply") or "").strip():
                continue
            answer = clean_answer(r["reply"])
            why = non_answer(answer)
            question, detail = clean_question(r["subject"], r["body"])
            key = (question, answer[:60])
            if why is None and key in seen:
                why = "repeat"
            if why:
                dropped[why] += 1
                continue
            seen.add(key)
            unit, _ = label_reply(r["reply"])
            rows.append({"message_id": r["message_id"], "question": question, "detail": detail,
                         "answer": answer, "matter": matter_for(question + " " + detail, unit, lexicon, catalogue),
                         "unit": unit or "", "posted_at": r["posted_at"], "replied_at": r["replied_at"],
                         "terms": terms_of(question, detail, answer)})
    return rows, dropped


def read_shipped(path: Path | None = None) -> list[dict]:
    with gzip.open(path or DATA / "entries.csv.gz", "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def load_shipped(session, path: Path | None = None) -> int:
    """The shipped entries into the database (the demo seed); an entry
    already there (by its source) is left alone, edited or disabled."""
    from sqlalchemy import insert, select

    from models import Category, KnowledgeEntry, utcnow

    have = set(session.scalars(select(KnowledgeEntry.source)))
    cats = dict(session.execute(select(Category.full_name, Category.id)).all())
    now = utcnow()
    new = []
    for r in read_shipped(path):
        source = f"unlabelled.csv#{r['message_id']}"
        if source in have:
            continue
        have.add(source)
        new.append({"question": r["question"], "detail": r["detail"], "answer": r["answer"],
                    "category_id": cats.get(r["matter"]), "unit_code": r["unit"], "source": source,
                    "active": True, "version": 1, "terms": r["terms"], "created_at": now, "updated_at": now})
    if new:
        session.execute(insert(KnowledgeEntry), new)
    return len(new)


def main(argv=None) -> int:
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m dispatch.knowledge_build")
    p.add_argument("--unlabelled", required=True)
    p.add_argument("--out", default=str(DATA / "entries.csv.gz"))
    a = p.parse_args(argv)
    rows, dropped = build(a.unlabelled)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    # mtime=0: the same input gives the same bytes.
    with open(a.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(buf.getvalue().encode("utf-8"))
    print(json.dumps({"entries": len(rows), "dropped": dropped,
                      "with_unit": sum(1 for r in rows if r["unit"]),
                      "with_matter": sum(1 for r in rows if r["matter"])}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
