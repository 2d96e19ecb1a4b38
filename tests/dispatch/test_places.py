"""Address parsing against the administrative divisions (2023 tables)."""
from __future__ import annotations

import time

import pytest

from dispatch import places
from dispatch.places import Place, ancestors, children, division_name, full_name, parse_address


@pytest.fixture(scope="module", autouse=True)
def loaded():
    places.load()


@pytest.mark.parametrize("text, codes", [
    # (province, city, area, street)
    ("贵阳市南明区中华南路", ("52", "5201", "520102", None)),  # a road, not 中华南路街道
    ("贵州省遵义市红花岗区老城街道", ("52", "5203", "520302", "520302001")),
    ("花溪区", ("52", "5201", "520111", None)),
    ("花溪", ("52", "5201", "520111", None)),  # short form, inside the default province
    ("黔东南州凯里市", ("52", "5226", "522601", None)),
    ("黔东南苗族侗族自治州凯里市", ("52", "5226", "522601", None)),
    ("贵州黔南", ("52", "5227", None, None)),
    ("三都县", ("52", "5227", "522732", None)),  # 三都水族自治县
    ("贵阳市观山湖区金阳街道办事处", ("52", "5201", "520115", "520115007")),
    ("南明区小碧乡政府旁", ("52", "5201", "520102", "520102202")),  # 小碧布依族苗族乡
    ("毕节市七星关区", ("52", "5205", "520502", None)),
    ("贵州省", ("52", None, None, None)),
])
def test_guizhou_addresses(text, codes):
    p = parse_address(text)
    assert (p.province_code, p.city_code, p.area_code, p.street_code) == codes
    assert p.division_code == next(c for c in reversed(codes) if c)


def test_names_and_spans():
    text = "贵州省遵义市红花岗区老城街道12号"
    p = parse_address(text)
    assert (p.province_name, p.city_name, p.area_name, p.street_name) == ("贵州省", "遵义市", "红花岗区", "老城街道")
    assert [(s.level, s.text) for s in p.matched] == [
        ("province", "贵州省"), ("city", "遵义市"), ("area", "红花岗区"), ("street", "老城街道")]
    assert all(text[s.start:s.end] == s.text for s in p.matched)


def test_ambiguous_district_resolved_by_default_province_or_named_city():
    # 白云区 exists in 贵阳 (520113) and 广州 (440111).
    assert parse_address("白云区").area_code == "520113"  # default province 52
    assert parse_address("广州市白云区").area_code == "440111"
    assert parse_address("白云区", default_province="44").area_code == "440111"
    unresolved = parse_address("白云区", default_province=None)
    assert unresolved.area_code is None and not unresolved
    assert set(unresolved.ambiguous) == {"520113", "440111"}


def test_ambiguous_district_outside_the_default_province_is_not_guessed():
    # 朝阳区: 北京 110105 and 长春 220104, neither in Guizhou.
    p = parse_address("朝阳区")
    assert p.division_code is None and set(p.ambiguous) == {"110105", "220104"}
    assert parse_address("北京市朝阳区").area_code == "110105"
    assert parse_address("长春市朝阳区").area_code == "220104"


@pytest.mark.parametrize("text, codes", [
    ("广东省广州市天河区", ("44", "4401", "440106")),
    ("北京市海淀区", ("11", "1101", "110108")),
    ("新疆乌鲁木齐市天山区", ("65", "6501", "650102")),
    ("内蒙古呼和浩特", ("15", "1501", None)),
    ("杭州西湖区", ("33", "3301", "330106")),
    ("东莞市", ("44", "4419", "441900")),  # a city whose only area has its own name
    ("抚顺", ("21", "2104", None)),        # the city, not 抚顺县
    ("抚顺县", ("21", "2104", "210421")),
])
def test_other_provinces(text, codes):
    p = parse_address(text)
    assert (p.province_code, p.city_code, p.area_code) == codes


def test_short_area_name_needs_a_context():
    # 海淀 is a short form; with no Beijing context and Guizhou as default it is not trusted.
    assert parse_address("海淀").division_code is None
    assert parse_address("北京海淀").area_code == "110108"
    assert parse_address("花溪", default_province="44").division_code is None


def test_roads_named_after_places_are_not_places():
    p = parse_address("南明区遵义路")  # 遵义 is a city, 遵义路 a road in 南明区
    assert p.city_code == "5201" and p.area_code == "520102"
    assert parse_address("中华南路").division_code is None


@pytest.mark.parametrize("text, code", [
    ("蓝天白云", None),             # 白云 as a word, not 白云区
    ("我住在花溪", "520111"),        # lead-in 在
    ("住宅采光、日照不足", None),      # 日照 the word, not 日照市
    ("城市老城区改造", None),         # 老城区 the word, not 洛阳's district
    ("贵阳白云", "520113"),          # right after the city
])
def test_weak_names_need_an_anchor(text, code):
    assert parse_address(text).division_code == code


def test_street_within_default_city():
    assert parse_address("老城街道").division_code is None  # no area, no city: not searched
    p = parse_address("老城街道", default_city="5203")
    assert (p.area_code, p.street_code) == ("520302", "520302001")


@pytest.mark.parametrize("text", ["", "   ", None, "A市A7县", "西地省A市", "随便写点什么", "12345"])
def test_nonsense_and_anonymised_text_gives_an_empty_place(text):
    p = parse_address(text)
    assert p == Place() and not p and p.division_code is None


def test_lookups():
    assert ancestors("520102003") == ["52", "5201", "520102", "520102003"]
    assert ancestors("52") == ["52"]
    with pytest.raises(KeyError):
        ancestors("5201x")
    assert division_name("520102") == "南明区"
    assert division_name("999999") is None
    assert children("5201")[:3] == ["520102", "520103", "520111"]
    assert len(children()) == 31
    assert "520302001" in children("520302")
    assert full_name("520302001") == "贵州省遵义市红花岗区老城街道"
    assert full_name("110105") == "北京市朝阳区"  # no 市辖区


def test_parsing_is_fast_once_loaded():
    text = "贵州省遵义市红花岗区老城街道"
    t0 = time.perf_counter()
    for _ in range(1000):
        parse_address(text)
    assert (time.perf_counter() - t0) / 1000 < 1e-3
