"""Places: administrative divisions of China and the parsing of addresses against them.

Owns ``data/divisions/*.csv.gz`` (province 2 digits, city 4, area/county 6,
street/town 9; see its PROVENANCE.md).  The tables are loaded once, lazily,
and cached for the process.

How :func:`parse_address` reads free text
-----------------------------------------
* Names are found leftmost-longest: full names (贵州省, 黔东南苗族侗族自治州,
  花溪区) and short forms (贵州, 黔东南, 黔东南州, 花溪, 凯里, 三都县 for
  三都水族自治县).  A short form immediately followed by 路/街/巷/大道… is a
  road (遵义路, 中华南路) and is ignored.
* Province first, then a city inside it, then an area inside the city (or the
  province).  Missing upper levels are filled from the lower one's code.
* A short area name (花溪) is trusted only inside a context: the province or
  city mentioned, or the ``default_province``/``default_city``.  Weak names
  (short forms, two-character names such as 和县, generic ones such as
  老城区) must also stand at the start of a phrase, after a lead-in (在, 到,
  住 …) or right after the province/city: 蓝天白云 is not 白云区.  A full area
  name found in several places (白云区: 贵阳 and 广州) is resolved by that same
  context; if it stays ambiguous, the area is left empty and the candidates
  are listed in ``Place.ambiguous`` (no guess).
* Streets, towns and townships (街道/镇/乡) are searched only inside the area
  found (or the city, or ``default_city``), by full name or short form
  (老城 for 老城街道, but never a road-named one: 中华南路 is not
  中华南路街道).
* The defaults only disambiguate: text that names no place gives an empty
  Place, whatever the defaults.
"""
from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "divisions"
PROVINCE, CITY, AREA, STREET = "province", "city", "area", "street"
_LEVEL_BY_LEN = {2: PROVINCE, 4: CITY, 6: AREA, 9: STREET}

# Placeholder "cities" of the four municipalities and of directly
# administered counties: real codes, but names that are no place.
_PLACEHOLDER = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}

_ETHNIC = (
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 "
    "高山 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 "
    "普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 "
    "珞巴 基诺"
).split()
# One trailing ethnic group: "苗族", or a multi-character name without 族 ("蒙古").
_ETHNIC_TAIL = re.compile(
    "(?:" + "|".join(sorted((re.escape(e) + "族" for e in _ETHNIC), key=len, reverse=True))
    + "|" + "|".join(sorted((re.escape(e) for e in _ETHNIC if len(e) > 1), key=len, reverse=True))
    + ")$"
)
# Short forms too common as ordinary words or road names to trust.
_SHORT_STOPLIST = {
    "市中", "城中", "城关", "城东", "城西", "城南", "城北", "新城", "新华", "和平", "长安",
    "向阳", "中心", "开发", "高新", "经开", "新区", "东区", "西区", "南区", "北区", "中区",
    "阿里", "日照", "安康", "中华", "人民", "解放", "建设", "胜利", "友谊", "团结", "光明", "红旗", "东风",
}
# Full area names that are also ordinary words (老城区 "old town"): trusted
# only where a weak name is (see _anchored).
_GENERIC_AREAS = {"城区", "矿区", "郊区", "老城区", "新城区", "西区", "东区", "市中区", "城中区",
                  "城关区", "城东区", "城西区", "城北区", "河东区", "河西区", "江北区", "江南区",
                  "新华区", "和平区", "长安区", "向阳区", "青山区", "南山区", "宝山区", "中山区"}
# Words that often lead into a place name: "住在花溪", "到凯里".
_LEAD_INS = set("在于到至往住从去来位")
_ROAD_NEXT1 = set("路街巷道弄里")
_ROAD_NEXT2 = {"大道", "大街", "东路", "西路", "南路", "北路", "中路", "一路", "二路", "三路",
               "公路", "小区", "广场", "公园", "大厦", "中学", "小学", "大学", "医院", "车站"}


@dataclass(frozen=True)
class Span:
    """Where a division was found in the text."""

    level: str
    code: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Place:
    province_code: str | None = None
    province_name: str | None = None
    city_code: str | None = None
    city_name: str | None = None
    area_code: str | None = None
    area_name: str | None = None
    street_code: str | None = None
    street_name: str | None = None
    matched: tuple[Span, ...] = ()
    ambiguous: tuple[str, ...] = field(default=(), compare=False)

    @property
    def division_code(self) -> str | None:
        """The most specific code found, or None."""
        return self.street_code or self.area_code or self.city_code or self.province_code

    def __bool__(self) -> bool:
        return self.division_code is not None


def _strip_ethnic(stem: str) -> str:
    while True:
        m = _ETHNIC_TAIL.search(stem)
        if not m or m.start() < 2:
            return stem
        stem = stem[: m.start()]


def _aliases(level: str, name: str) -> list[tuple[str, bool]]:
    """(alias, is_full_name) pairs for one division name."""
    out = [(name, True)]
    short: list[str] = []
    if level == PROVINCE:
        for suffix in ("自治区", "特别行政区", "省", "市"):
            if name.endswith(suffix):
                short.append(_strip_ethnic(name[: -len(suffix)]))
                break
    elif level == CITY:
        if name.endswith("自治州"):
            stem = _strip_ethnic(name[:-3])
            short += [stem, stem + "州"]
        else:
            for suffix in ("地区", "盟", "市"):
                if name.endswith(suffix):
                    short.append(name[: -len(suffix)])
                    break
    elif level == AREA:
        for suffix in ("自治县", "自治旗"):
            if name.endswith(suffix):
                stem = _strip_ethnic(name[:-3])
                short += [stem, stem + suffix[-1]]
                break
        else:
            if name[-1] in "区县市":
                short.append(name[:-1])
    elif level == STREET:
        for suffix in ("街道", "镇", "乡"):
            if name.endswith(suffix):
                stem = name[: -len(suffix)]
                if suffix == "乡":
                    stem = _strip_ethnic(stem)
                    short.append(stem + "乡")
                if stem and stem[-1] not in "路街道巷":  # 中华南路街道 is named after a road
                    short.append(stem)
                break
    for s in short:
        if len(s) >= 2 and s != name and s not in _SHORT_STOPLIST:
            out.append((s, False))
    return out


class _Divisions:
    """The loaded tables and alias indexes (one instance per process)."""

    def __init__(self, data_dir: Path = DATA_DIR):
        self.name: dict[str, str] = {}
        self.parent: dict[str, str | None] = {}
        self.kids: dict[str | None, list[str]] = {}
        self.index: dict[str, list[tuple[str, str, bool]]] = {}  # alias → (level, code, full)
        self.streets: dict[str, dict[str, list[tuple[str, bool]]]] = {}  # area → alias → (code, full)
        for level, fname, parent_col in ((PROVINCE, "provinces", None), (CITY, "cities", "provinceCode"),
                                         (AREA, "areas", "cityCode"), (STREET, "streets", "areaCode")):
            with gzip.open(data_dir / f"{fname}.csv.gz", "rb") as raw:
                for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")):
                    code, name = row["code"], row["name"]
                    parent = row[parent_col] if parent_col else None
                    self.name[code] = name
                    self.parent[code] = parent
                    self.kids.setdefault(parent, []).append(code)
                    if level == STREET:
                        per_area = self.streets.setdefault(parent, {})
                        for alias, full in _aliases(level, name):
                            per_area.setdefault(alias, []).append((code, full))
                    elif name not in _PLACEHOLDER:
                        for alias, full in _aliases(level, name):
                            self.index.setdefault(alias, []).append((level, code, full))
        self.max_alias = max(map(len, self.index))
        self.max_street_alias = max(len(a) for d in self.streets.values() for a in d)
        self._city_streets: dict[str, dict[str, list[tuple[str, bool]]]] = {}

    def streets_in(self, code: str) -> dict[str, list[tuple[str, bool]]]:
        """Street aliases of an area, or of all areas of a city."""
        if len(code) == 6:
            return self.streets.get(code, {})
        if code not in self._city_streets:
            merged: dict[str, list[tuple[str, bool]]] = {}
            for area in self.kids.get(code, []):
                for alias, hits in self.streets.get(area, {}).items():
                    merged.setdefault(alias, []).extend(hits)
            self._city_streets[code] = merged
        return self._city_streets[code]


_loaded: _Divisions | None = None
_lock = threading.Lock()


def _db() -> _Divisions:
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _Divisions()
    return _loaded


def load() -> None:
    """Load the tables now (at process start) instead of on first use."""
    _db()


# --- lookups ----------------------------------------------------------------

def division_name(code: str) -> str | None:
    """``"520102"`` → ``"南明区"``; None for an unknown code."""
    return _db().name.get(code)


def ancestors(code: str) -> list[str]:
    """``"520102003"`` → ``["52", "5201", "520102", "520102003"]`` (the code itself last).

    Read from the code's structure (2/4/6/9 digits, each level a prefix of the
    next, as in the statistics codes), so a code from another vintage of the
    tables still has its chain.
    """
    if not isinstance(code, str) or not code.isdigit() or len(code) not in _LEVEL_BY_LEN:
        raise KeyError(f"not a division code: {code!r}")
    return [code[:n] for n in sorted(_LEVEL_BY_LEN) if n <= len(code)]


def children(code: str | None = None) -> list[str]:
    """The divisions directly under ``code`` (the provinces for None), in code order."""
    db = _db()
    if code is not None and code not in db.name:
        raise KeyError(f"unknown division code {code!r}")
    return sorted(db.kids.get(code, []))


def full_name(code: str) -> str:
    """``"520102"`` → ``"贵州省贵阳市南明区"`` (placeholder levels such as 市辖区 left out)."""
    names = (division_name(c) for c in ancestors(code))
    return "".join(n for n in names if n and n not in _PLACEHOLDER)


# --- parsing ----------------------------------------------------------------

@dataclass
class _Hit:
    start: int
    end: int
    text: str
    cands: list  # [(level, code, full)] or [(code, full)] for streets


def _is_road(text: str, end: int) -> bool:
    return text[end:end + 1] in _ROAD_NEXT1 or text[end:end + 2] in _ROAD_NEXT2


def _scan(text: str, index: dict, max_len: int, taken: set[int] | None = None) -> list[_Hit]:
    """Leftmost-longest matches of ``index`` aliases in ``text``."""
    hits, i, n = [], 0, len(text)
    while i < n:
        if taken and i in taken:
            i += 1
            continue
        for length in range(min(max_len, n - i), 1, -1):
            alias = text[i:i + length]
            cands = index.get(alias)
            if cands is None or (taken and any(j in taken for j in range(i, i + length))):
                continue
            if _is_road(text, i + length):
                cands = [c for c in cands if c[-1]]  # only full names survive before 路
                if not cands:
                    continue
            hits.append(_Hit(i, i + length, alias, cands))
            i += length
            break
        else:
            i += 1
    return hits


def _anchored(text: str, hit: _Hit, after: set[int]) -> bool:
    """A weak name is trusted at the start of the text or of a phrase, after a
    lead-in word, or right after a province or city that was found."""
    if hit.start == 0 or hit.start in after:
        return True
    prev = text[hit.start - 1]
    return prev in _LEAD_INS or not ("\u4e00" <= prev <= "\u9fff")


def _under(code: str, parent: str | None) -> bool:
    return parent is None or code.startswith(parent)


def _pick(codes: list[str], *contexts: str | None) -> tuple[str | None, tuple[str, ...]]:
    """One code from ``codes``, narrowed by the first context that leaves any; else ambiguity."""
    codes = sorted(set(codes))
    if len(codes) == 1:
        return codes[0], ()
    for ctx in contexts:
        if ctx:
            inside = [c for c in codes if c.startswith(ctx)]
            if len(inside) == 1:
                return inside[0], ()
            if inside:
                return None, tuple(inside)
    return None, tuple(codes)


def parse_address(text: str | None, default_province: str | None = "52",
                  default_city: str | None = None) -> Place:
    """The divisions named in ``text`` (see the module docstring for the rules)."""
    if not text or not text.strip():
        return Place()
    db = _db()
    hits = _scan(text, db.index, db.max_alias)
    found: dict[str, str] = {}
    spans: dict[str, Span] = {}
    used: set[int] = set()
    ambiguous: tuple[str, ...] = ()

    def anchors() -> set[int]:
        return {sp.end for sp in spans.values()}

    def take(level: str, code: str, hit_no: int) -> None:
        found[level] = code
        h = hits[hit_no]
        spans[level] = Span(level, code, h.start, h.end, h.text)
        used.add(hit_no)

    for n, h in enumerate(hits):
        provinces = [code for lvl, code, _ in h.cands if lvl == PROVINCE]
        if provinces:
            take(PROVINCE, provinces[0], n)
            break

    province = found.get(PROVINCE)
    for n, h in enumerate(hits):
        if n in used:
            continue
        cities = [code for lvl, code, full in h.cands if lvl == CITY and _under(code, province)
                  and (full or len(h.text) > 2 or _under(code, default_province or "-")
                       or _anchored(text, h, anchors()))]
        if cities:
            code, amb = _pick(cities, default_city, default_province)
            if code:
                take(CITY, code, n)
                break
            ambiguous = ambiguous or amb

    city = found.get(CITY)
    for n, h in enumerate(hits):
        same_as_city = city and spans[CITY].start == h.start and h.text == db.name[city]
        if n in used and not same_as_city:  # 东莞市 is both a city and its only area
            continue
        areas = [(code, full) for lvl, code, full in h.cands
                 if lvl == AREA and _under(code, city or province)
                 and (full and len(h.text) > 2 and h.text not in _GENERIC_AREAS
                      or _anchored(text, h, anchors()))]
        if not city and not province:
            # Without a named context a short form must fall inside the defaults.
            areas = [(c, f) for c, f in areas if f or _under(c, default_city or default_province or "-")]
        if areas:
            code, amb = _pick([c for c, _ in areas], default_city, default_province)
            if code:
                found[AREA] = code
                spans[AREA] = Span(AREA, code, h.start, h.end, h.text)
                used.add(n)
                break
            ambiguous = ambiguous or amb

    scope = found.get(AREA) or found.get(CITY)
    if scope is None and default_city and _under(default_city, found.get(PROVINCE)):
        scope = default_city
    if scope is not None:
        taken = {i for s in spans.values() for i in range(s.start, s.end)}
        index = db.streets_in(scope)
        for h in _scan(text, index, db.max_street_alias, taken):
            code, amb = _pick([c for c, _ in h.cands])
            if code:
                found[STREET] = code
                spans[STREET] = Span(STREET, code, h.start, h.end, h.text)
                break
            ambiguous = ambiguous or amb

    if not found:
        return Place(ambiguous=ambiguous)
    chain = ancestors(found.get(STREET) or found.get(AREA) or found.get(CITY) or found[PROVINCE])
    codes = dict(zip((PROVINCE, CITY, AREA, STREET), chain))
    return Place(
        province_code=codes.get(PROVINCE), province_name=division_name(codes[PROVINCE]),
        city_code=codes.get(CITY), city_name=division_name(codes[CITY]) if CITY in codes else None,
        area_code=codes.get(AREA), area_name=division_name(codes[AREA]) if AREA in codes else None,
        street_code=codes.get(STREET),
        street_name=division_name(codes[STREET]) if STREET in codes else None,
        matched=tuple(sorted(spans.values(), key=lambda s: s.start)),
        ambiguous=() if AREA in codes else ambiguous,
    )


def division_of(address: str, default: str | None) -> str:
    """The most specific division code named in ``address``; the platform's
    own division (``default``) only disambiguates, and is the answer when
    the address names no place at all."""
    default = default or ""
    province = default[:2] or None
    city = default[:4] if len(default) >= 4 else None
    try:
        place = parse_address(address, default_province=province, default_city=city)
    except FileNotFoundError:
        log.error("division tables missing: addresses are not parsed")
        return default
    return place.division_code or default
