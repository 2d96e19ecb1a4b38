"""Demo data: the Guizhou province platform (division 52) with the Guiyang
city platform, its departments and districts, the category tree, a routing
catalogue and one account per role.  Idempotent: running it twice changes
nothing the second time."""
from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.auth import hash_password
from models import Category, Database, RoutingRule, Unit, User

DATA = Path(os.environ.get("HOTLINE_DATA_DIR") or Path(__file__).resolve().parent.parent / "data")
DEFAULT_DEMO_PASSWORD = "hotline-demo"

PROVINCE = ("gz12345", "贵州省12345政务服务便民热线", "52")
CITY = ("gy12345", "贵阳市12345政务服务便民热线", "5201")
# code, name, the categories it handles (level-1, or a full path for a
# narrower rule).
CITY_DEPARTMENTS = [
    ("gy_zjj", "贵阳市住房和城乡建设局", ["城乡建设"]),
    ("gy_cgj", "贵阳市城市管理局", ["城乡建设/城市建设和市政管理"]),
    ("gy_swj", "贵阳市水务管理局", ["城乡建设/城市建设和市政管理/自来水供应"]),
    ("gy_rsj", "贵阳市人力资源和社会保障局", ["劳动和社会保障"]),
    ("gy_jyj", "贵阳市教育局", ["教育文体"]),
    ("gy_scjgj", "贵阳市市场监督管理局", ["商贸旅游"]),
    ("gy_wjw", "贵阳市卫生健康委员会", ["卫生计生"]),
    ("gy_sthjj", "贵阳市生态环境局", ["环境保护"]),
    ("gy_jtysj", "贵阳市交通运输局", ["交通运输"]),
    ("gy_mzj", "贵阳市民政局", ["民政"]),
    ("gy_nyncj", "贵阳市农业农村局", ["农村农业"]),
    ("gy_zrzyj", "贵阳市自然资源和规划局", ["国土资源"]),
    # Issue 9: the departments a city hotline dispatches to.  Their
    # catalogue rules come from data/routing/catalogue.csv.
    ("gy_ybj", "贵阳市医疗保障局", []),
    ("gy_gdj", "贵阳供电局", []),
    ("gy_rqgs", "贵阳市燃气公司", []),
    ("gy_gaj", "贵阳市公安局", []),
    ("gy_wlj", "贵阳市文化和旅游局", []),
    ("gy_tax", "国家税务总局贵阳市税务局", []),
]
PROVINCE_DEPARTMENTS = [("gz_rst", "贵州省人力资源和社会保障厅", [])]
# Districts of Guiyang with the category they take for their own area.
DISTRICTS = [("520102", "gy_nmq", ["城乡建设/城市建设和市政管理/城管执法"]),
             ("520103", "gy_yyq", []), ("520111", "gy_hxq", []), ("520115", "gy_gshq", []),
             ("520112", "gy_wdq", []), ("520113", "gy_byq", []), ("520121", "gy_kyx", []),
             ("520122", "gy_xfx", []), ("520123", "gy_xwx", []), ("520181", "gy_qzs", [])]
STAFF = [("agent", "agent", "王坐席", CITY[0]), ("dispatcher", "dispatcher", "李派单", CITY[0]),
         ("coordinator", "coordinator", "赵协调", CITY[0]), ("supervisor", "supervisor", "钱督查", CITY[0]),
         ("admin", "admin", "孙管理", PROVINCE[0]), ("province_agent", "agent", "周坐席(省)", PROVINCE[0]),
         # 三员分立: system administrator (admin, above), security administrator, auditor.
         ("secadmin", "security_admin", "吴安全", PROVINCE[0]), ("auditor", "auditor", "郑审计", PROVINCE[0])]


def _open_csv(name: str):
    for candidate in (DATA / "divisions" / f"{name}.csv.gz", DATA / "divisions" / f"{name}.csv"):
        if candidate.exists():
            opener = gzip.open if candidate.suffix == ".gz" else open
            return opener(candidate, "rt", encoding="utf-8", newline="")
    raise FileNotFoundError(f"data/divisions/{name}.csv(.gz) is missing")


def division_names(codes: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in ("provinces", "cities", "areas", "streets"):
        with _open_csv(name) as f:
            for row in csv.DictReader(f):
                if row["code"] in codes:
                    found[row["code"]] = row["name"]
    return found


def streets_of(area_code: str, limit: int) -> list[tuple[str, str]]:
    with _open_csv("streets") as f:
        rows = [(r["code"], r["name"]) for r in csv.DictReader(f) if r["areaCode"] == area_code]
    return rows[:limit]


def load_categories(s: Session) -> int:
    """The category tree from data/taxonomy/categories.csv."""
    existing = {c.full_name: c for c in s.scalars(select(Category))}
    counters: dict[str | None, int] = {}
    added = 0
    with open(DATA / "taxonomy" / "categories.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            parent = None
            path = []
            for level, key in enumerate(("level1", "level2", "level3"), start=1):
                name = row[key].strip()
                if not name:
                    break
                path.append(name)
                full = "/".join(path)
                cat = existing.get(full)
                if cat is None:
                    pcode = parent.code if parent else None
                    counters[pcode] = counters.get(pcode, 0) + 1
                    cat = Category(code=(pcode or "") + f"{counters[pcode]:02d}", name=name, level=level,
                                   parent_id=parent.id if parent else None, full_name=full)
                    s.add(cat)
                    s.flush()
                    existing[full] = cat
                    added += 1
                else:
                    counters[parent.code if parent else None] = max(
                        counters.get(parent.code if parent else None, 0), int(cat.code[-2:]))
                parent = cat
    return added


def _unit(s, units, code, name, kind, parent, division=None) -> Unit:
    u = units.get(code)
    if u is None:
        u = Unit(code=code, name=name, kind=kind, parent_id=parent.id if parent else None, division_code=division)
        s.add(u)
        s.flush()
        u.path = (parent.path if parent else "/") + f"{u.id}/"
        units[code] = u
    return u


def catalogue_rules(city: Unit, cats: dict, units: dict) -> list[tuple]:
    """The city's 派单目录 from data/routing/catalogue.csv: a matter → a
    department everywhere, or → ``district``: one rule per district for its
    own area (without a place a person picks the district)."""
    rules = []
    districts = [units[code] for _, code, _ in DISTRICTS]
    with open(DATA / "routing" / "catalogue.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            matter, code = row["matter"].strip(), row["unit"].strip()
            if code == "district":
                rules += [(city, matter, d.division_code, d) for d in districts]
            else:
                rules.append((city, matter, "", units[code]))
    return rules


def load_lexicon(s: Session, cats: dict) -> int:
    """The shipped 通俗化词条 (data/routing/lexicon.csv); entries already in
    the database (edited or disabled by an admin) are left alone."""
    from models import LexiconEntry

    have = set(s.scalars(select(LexiconEntry.phrase)))
    added = 0
    with open(DATA / "routing" / "lexicon.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            phrase = row["phrase"].strip()
            cat = cats.get(row["matter"].strip())
            if not phrase or phrase in have or cat is None:
                continue
            have.add(phrase)
            s.add(LexiconEntry(phrase=phrase, category_id=cat.id, unit_code="", source="seed"))
            added += 1
    return added


def seed_demo(db: Database, password: str | None = None) -> list[dict]:
    password = password or os.environ.get("HOTLINE_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
    names = division_names({d[0] for d in DISTRICTS})
    with db.session() as s:
        load_categories(s)
        cats = {c.full_name: c for c in s.scalars(select(Category))}
        units = {u.code: u for u in s.scalars(select(Unit))}
        prov = _unit(s, units, PROVINCE[0], PROVINCE[1], "province_platform", None, PROVINCE[2])
        city = _unit(s, units, CITY[0], CITY[1], "city_platform", prov, CITY[2])
        rules: list[tuple[Unit, str | None, str, Unit]] = []
        for code, name, topics in PROVINCE_DEPARTMENTS:
            u = _unit(s, units, code, name, "department", prov, "52")
            rules += [(prov, t, "", u) for t in topics]
        for code, name, topics in CITY_DEPARTMENTS:
            u = _unit(s, units, code, name, "department", city, "5201")
            rules += [(city, t, "", u) for t in topics]
        for division, code, topics in DISTRICTS:
            d = _unit(s, units, code, f"贵阳市{names.get(division, code)}人民政府", "district", city, division)
            for st_code, st_name in streets_of(division, 2):
                _unit(s, units, f"{code}_{st_code[-3:]}", f"{names.get(division, '')}{st_name}办事处",
                      "street", d, st_code)
            rules += [(city, t, division, d) for t in topics]
        rules += catalogue_rules(city, cats, units)
        # Fallbacks: nothing is left unowned.  The city's own platform (a
        # person dispatches), and the province sends Guiyang matters on to
        # the city platform.
        rules += [(city, None, "", city), (prov, None, "5201", city), (prov, None, "", prov)]
        # Add the rules this seed knows that the catalogue lacks (a rule an
        # admin disabled stays disabled: it exists).
        have = {(r.platform_id, r.category_id, r.division_code, r.unit_id)
                for r in s.scalars(select(RoutingRule))}
        for platform, topic, division, unit in rules:
            key = (platform.id, cats[topic].id if topic else None, division, unit.id)
            if key not in have:
                have.add(key)
                s.add(RoutingRule(platform_id=platform.id, category_id=key[1], division_code=division,
                                  unit_id=unit.id, note="兜底" if topic is None else ""))
        load_lexicon(s, cats)
        # The 知识库 from the government's own replies (data/knowledge).
        from dispatch.knowledge_build import load_shipped
        load_shipped(s)
        accounts = [(u, r, n, c) for u, r, n, c in STAFF]
        accounts += [(code, "department", name, code) for code, name, _ in CITY_DEPARTMENTS + PROVINCE_DEPARTMENTS]
        accounts += [(code, "department", f"贵阳市{names.get(div, code)}", code) for div, code, _ in DISTRICTS]
        users = {u.username for u in s.scalars(select(User))}
        out = []
        for username, role, display, unit_code in accounts:
            if username not in users:
                # A hash (and salt) of its own per account, and a seeded
                # password must be changed at first login in production.
                s.add(User(username=username, display_name=display, role=role, unit_id=units[unit_code].id,
                           password_hash=hash_password(password), must_change_password=True))
            out.append({"username": username, "role": role, "unit": units[unit_code].name,
                        "password": password if username not in users else "(unchanged)"})
    return out
