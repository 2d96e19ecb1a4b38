"""Unit labels from the platform's own dispatch history: the government
replies in unlabelled.csv name the unit that answered or that the message
was passed to ("……已转县人社局", "……A4区交警大队2013年10月15日").

The rule (measured by hand on 100 replies: docs/routing.md):

1. find organisation names in the reply: a run of up to 14 characters
   without punctuation that ends in an organisation suffix (局, 厅, 委,
   大队, 支队, 中队, 办事处, 人民政府, 镇政府, 派出所, 中心, 公司, 管理处,
   站) and contains a unit keyword (``UNIT_KEYWORDS``, first match wins);
2. prefer a name in a hand-over phrase (转, 转交, 交由, 要求 … 进行/核查/
   调查/办理/回复, "X回复如下"), then a name in the signature (the last 45
   characters of the reply), else no label;
3. towns and street offices (街道, 镇, 乡) are ``district``; county and
   district governments and the platform's own offices (政府办, 信访,
   纪委, 扶贫办 …) give no label, because they pass most matters on.

``label_reply(reply)`` returns (unit code or None, the matched name).
"""
from __future__ import annotations

import re

#: keyword in an organisation name → unit code (first match in this order)
UNIT_KEYWORDS: list[tuple[str, str]] = [
    # towns and street offices first: "镇人民政府" contains "民政"
    ("街道", "district"), ("镇人民政府", "district"), ("乡人民政府", "district"),
    ("镇政府", "district"), ("乡政府", "district"), ("镇党委", "district"), ("乡党委", "district"),
    ("交警", "gy_gaj"), ("公安", "gy_gaj"), ("派出所", "gy_gaj"), ("车管所", "gy_gaj"),
    ("医保", "gy_ybj"), ("医疗保障", "gy_ybj"), ("合管", "gy_ybj"), ("新农合", "gy_ybj"),
    ("人社", "gy_rsj"), ("人力资源", "gy_rsj"), ("社保", "gy_rsj"), ("社会保险", "gy_rsj"),
    ("劳动", "gy_rsj"), ("就业", "gy_rsj"), ("人事考试", "gy_rsj"),
    ("住建", "gy_zjj"), ("住房和城乡建设", "gy_zjj"), ("住房城乡建设", "gy_zjj"), ("房产", "gy_zjj"),
    ("房管", "gy_zjj"), ("住房保障", "gy_zjj"), ("公积金", "gy_zjj"), ("建设局", "gy_zjj"),
    ("住保", "gy_zjj"), ("房屋征收", "gy_zjj"),
    ("城管", "gy_cgj"), ("城市管理", "gy_cgj"), ("环卫", "gy_cgj"), ("行政执法", "gy_cgj"),
    ("园林", "gy_cgj"),
    ("水务", "gy_swj"), ("水利", "gy_swj"), ("自来水", "gy_swj"), ("供水", "gy_swj"),
    ("供电", "gy_gdj"), ("电力", "gy_gdj"), ("电业", "gy_gdj"),
    ("燃气", "gy_rqgs"), ("天然气", "gy_rqgs"),
    ("交通运输", "gy_jtysj"), ("交通局", "gy_jtysj"), ("运管", "gy_jtysj"), ("公路", "gy_jtysj"),
    ("邮政", "gy_jtysj"), ("公交", "gy_jtysj"), ("客运", "gy_jtysj"),
    ("教育", "gy_jyj"), ("教体", "gy_jyj"),
    ("卫健", "gy_wjw"), ("卫生健康", "gy_wjw"), ("卫计", "gy_wjw"), ("卫生计生", "gy_wjw"),
    ("卫生局", "gy_wjw"), ("计生", "gy_wjw"), ("人口和计划生育", "gy_wjw"),
    ("市场监督", "gy_scjgj"), ("市场监管", "gy_scjgj"), ("工商", "gy_scjgj"), ("质监", "gy_scjgj"),
    ("质量技术监督", "gy_scjgj"), ("食药", "gy_scjgj"), ("食品药品", "gy_scjgj"),
    ("环保", "gy_sthjj"), ("生态环境", "gy_sthjj"), ("环境保护", "gy_sthjj"),
    ("民政", "gy_mzj"),
    ("农业农村", "gy_nyncj"), ("农业", "gy_nyncj"), ("农委", "gy_nyncj"), ("畜牧", "gy_nyncj"),
    ("农机", "gy_nyncj"), ("农经", "gy_nyncj"),
    ("自然资源", "gy_zrzyj"), ("国土", "gy_zrzyj"), ("规划", "gy_zrzyj"), ("不动产", "gy_zrzyj"),
    ("文旅", "gy_wlj"), ("文化", "gy_wlj"), ("旅游", "gy_wlj"), ("体育", "gy_wlj"), ("文体", "gy_wlj"),
    ("税务", "gy_tax"), ("地税", "gy_tax"), ("国税", "gy_tax"),
]

_SUFFIX = r"(?:局|厅|委员会|委|大队|支队|中队|办事处|人民政府|镇政府|乡政府|派出所|中心|公司|管理处|站)"
_ORG = re.compile(r"[^，。；！？、：:,;!?\s“”\"（）()《》]{1,14}?" + _SUFFIX)
_HANDOVER = re.compile(r"(?:转交|转至|转由|交由|转给|转|要求|责成|请)\s*(?:给)?\s*$")
_AFTER = re.compile(r"^\s*(?:进行|核|调查|办理|处理|处置|回复|答复|办复|关注|落实|研究|了解|牵头)")
_SKIP = ("纪委", "监委", "信访", "扶贫", "政府办", "电子政务", "发改", "财政", "宣传", "政法委",
         "区委", "县委", "市委", "省委", "区人民政府", "县人民政府", "市人民政府", "区政府", "县政府",
         "市政府", "编办", "审计", "统计", "司法", "法院", "检察")


def unit_of_name(name: str) -> str | None:
    if any(s in name for s in _SKIP):
        return None
    for kw, unit in UNIT_KEYWORDS:
        if kw in name:
            return unit
    return None


def label_reply(reply: str) -> tuple[str | None, str]:
    reply = (reply or "").strip()
    if not reply:
        return None, ""
    handover, signature = [], []
    tail_from = max(0, len(reply) - 45)
    for m in _ORG.finditer(reply):
        name = m.group(0)
        unit = unit_of_name(name)
        if unit is None:
            continue
        before = reply[max(0, m.start() - 6):m.start()]
        after = reply[m.end():m.end() + 8]
        if _HANDOVER.search(before) or _AFTER.search(after):
            handover.append((unit, name))
        elif m.start() >= tail_from:
            signature.append((unit, name))
    if handover:
        return handover[0]
    if signature:
        return signature[-1]
    return None, ""


def build(unlabelled_csv: str, sources_csv: str, eval_csvs: list[str]) -> list[dict]:
    """Labelled examples from the replies of ``unlabelled_csv``, leaving out
    every message of the routing evaluation/tuning sets (by message id, by
    text hash, and by the first 20 characters of the text, which catches the
    same message posted twice)."""
    import csv
    import hashlib

    from classifier.text import normalize

    excluded_ids, excluded_hash, excluded_prefix = set(), set(), set()
    with open(sources_csv, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            if r.get("message_id"):
                excluded_ids.add(r["message_id"])
            excluded_hash.add(r["text_sha1"])
    for path in eval_csvs:
        with open(path, encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                excluded_prefix.add(normalize(r["text"])[:20])
    out = []
    with open(unlabelled_csv, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            unit, name = label_reply(r.get("reply", ""))
            if unit is None:
                continue
            text = re.sub(r"\s+", " ", (r["subject"] + " " + r["body"])).strip()
            if (r["message_id"] in excluded_ids
                    or hashlib.sha1(text.encode()).hexdigest() in excluded_hash
                    or normalize(text)[:20] in excluded_prefix):
                continue
            out.append({"message_id": r["message_id"], "text": text, "unit": unit, "matched": name})
    return out


def main(argv=None) -> int:
    """python -m classifier.replies --unlabelled PATH [--out data/routing/reply_labels.csv.gz]"""
    import argparse
    import csv
    import gzip
    import io
    from collections import Counter

    from classifier.lexicon import ROUTING_DATA

    p = argparse.ArgumentParser(prog="python -m classifier.replies")
    p.add_argument("--unlabelled", required=True)
    p.add_argument("--out", default=str(ROUTING_DATA / "reply_labels.csv.gz"))
    a = p.parse_args(argv)
    rows = build(a.unlabelled, str(ROUTING_DATA / "eval_sources.csv"),
                 [str(ROUTING_DATA / "eval.csv"), str(ROUTING_DATA / "tune.csv")])
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["message_id", "text", "unit", "matched"])
    w.writeheader()
    w.writerows(rows)
    with gzip.GzipFile(a.out, "wb", mtime=0) as f:
        f.write(buf.getvalue().encode("utf-8"))
    print(f"{len(rows)} labelled replies → {a.out}")
    print(dict(Counter(r["unit"] for r in rows).most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
