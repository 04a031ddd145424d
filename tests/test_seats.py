"""Tests of geo.seats: pinyin matching of GeoNames places to official towns."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from geo.errors import InputError
from geo.seats import match_seats, normalise_place_name, strip_town_suffix, town_readings

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"


@pytest.mark.parametrize("name,base", [
    ("连州镇", "连州"), ("瑶安瑶族乡", "瑶安"), ("秤架瑶族乡", "秤架"), ("凤城街道", "凤城"),
    ("某某街道办事处", "某某"), ("大麦山镇", "大麦山"), ("古镇镇", "古镇"), ("上帅镇", "上帅"),
    ("某壮族瑶族乡", "某"), ("镇", "镇"),
])
def test_strip_town_suffix(name, base):
    assert strip_town_suffix(name) == base


def test_readings_consider_heteronyms_and_apostrophes():
    assert town_readings("西岸镇") == ["xi'an"]
    assert "dongbei" in town_readings("东陂镇")   # 陂: bei / po / pi
    assert "dongpo" in town_readings("东陂镇")
    assert {"hanguang", "ganguang"} <= set(town_readings("浛洸镇"))
    assert "huangben" in town_readings("黄坌镇")
    assert town_readings("保安镇")[0] == "bao'an"


@pytest.mark.parametrize("raw,norm", [("Xi'an", "xi'an"), ("Shaba Zhen", "shaba"),
                                      ("Bao’an", "bao'an"), ("Lǜtian", "lutian"),
                                      ("Da-ping", "daping")])
def test_normalise_place_name(raw, norm):
    assert normalise_place_name(raw) == norm


@pytest.fixture
def two_counties():
    # county 990001 is the square 0..1, county 990002 the square 1..2 (degrees)
    return gpd.GeoDataFrame({"county_code": ["990001", "990002"], "county": ["甲县", "乙县"]},
                            geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326)


def _towns(*rows):
    return pd.DataFrame(rows, columns=["town_code", "town", "county_code"])


def test_place_must_be_inside_the_towns_county(two_counties):
    towns = _towns(("990001100", "太平镇", "990001"), ("990002100", "西岸镇", "990002"))
    places = pd.DataFrame({"name": ["Taiping", "Taiping", "Xi'an"],
                           "lon": [1.5, 0.25, 1.2], "lat": [0.5, 0.75, 0.3]})
    seats, unmatched = match_seats(towns, places, two_counties)
    assert list(seats["town"]) == ["太平镇", "西岸镇"]
    assert seats.loc[0, "seat_lon"] == 0.25 and seats.loc[0, "seat_lat"] == 0.75
    assert seats.loc[0, "county"] == "甲县"
    assert seats.crs.to_epsg() == 4326
    assert seats.geometry.iloc[1].x == 1.2
    assert unmatched.empty


def test_unmatched_towns_are_reported_with_reason(two_counties):
    towns = _towns(("990002101", "大坪镇", "990002"), ("990001102", "无名镇", "990001"),
                   ("990003100", "远方镇", "990003"))
    places = pd.DataFrame({"name": ["Daping"], "lon": [0.5], "lat": [0.5]})
    seats, unmatched = match_seats(towns, places, two_counties)
    assert seats.empty
    assert list(unmatched["town"]) == ["大坪镇", "无名镇", "远方镇"]
    assert unmatched.loc[0, "reason"].startswith("1 place(s) named daping")
    assert "none inside 乙县" in unmatched.loc[0, "reason"]
    assert unmatched.loc[1, "reason"].startswith("no place named")
    assert "county 990003 is not in the counties file" == unmatched.loc[2, "reason"]


def test_ambiguous_pick_is_deterministic_and_reported(two_counties):
    towns = _towns(("990001100", "英城街道", "990001"), ("990001101", "大站镇", "990001"))
    # two Yingcheng inside the county; the one far from Dazhan's seat wins
    # (west-to-east order alone would pick the crowded one at lon 0.48)
    places = pd.DataFrame({"name": ["Yingcheng", "Dazhan", "Yingcheng"],
                           "lon": [0.48, 0.5, 0.9], "lat": [0.5, 0.5, 0.9]})
    seats, _ = match_seats(towns, places, two_counties)
    first = seats.iloc[0]
    assert bool(first["ambiguous"]) and first["n_candidates"] == 2
    assert (first["seat_lon"], first["seat_lat"]) == (0.9, 0.9)
    assert first["candidates"] == "Yingcheng@0.90000,0.90000;Yingcheng@0.48000,0.50000"
    shuffled, _ = match_seats(towns, places.iloc[::-1], two_counties)
    assert shuffled.iloc[0]["seat_lon"] == 0.9


def test_exact_apostrophe_spelling_beats_loose(two_counties):
    towns = _towns(("990001100", "西岸镇", "990001"))
    places = pd.DataFrame({"name": ["Xian", "Xi'an"], "lon": [0.1, 0.9], "lat": [0.1, 0.9]})
    seats, _ = match_seats(towns, places, two_counties)
    assert seats.loc[0, "seat_name"] == "Xi'an" and seats.loc[0, "match_method"] == "pinyin"
    seats, _ = match_seats(towns, places.iloc[:1], two_counties)
    assert seats.loc[0, "match_method"] == "pinyin-loose"


def test_missing_columns_are_named(two_counties):
    with pytest.raises(InputError, match=r"places table lacks the column\(s\) 'lon'"):
        match_seats(_towns(("990001100", "西岸镇", "990001")),
                    pd.DataFrame({"name": ["Xi'an"], "x": [0.1], "lat": [0.1]}), two_counties)


# --- the bundled Qingyuan ingredients (facts documented in data/raw/SOURCES.md) ---

@pytest.fixture(scope="module")
def qingyuan():
    towns = pd.read_csv(RAW / "guangdong_townships.csv", dtype=str)
    towns = towns[(towns["city_code"] == "4418") & (towns["town_code"].str[6:].astype(int) < 400)]
    places = pd.read_csv(RAW / "guangdong_places_geonames.csv")
    counties = gpd.read_file(RAW / "qingyuan_counties_gcj02.geojson")
    return towns, match_seats(towns, places, counties, counties_datum="gcj02")


def test_qingyuan_84_of_85_match_and_daping_is_reported(qingyuan):
    towns, (seats, unmatched) = qingyuan
    assert len(towns) == 85
    assert len(seats) == 84
    assert list(unmatched["town"]) == ["大坪镇"]
    assert unmatched.loc[0, "county"] == "连南瑶族自治县"
    assert "none inside 连南瑶族自治县" in unmatched.loc[0, "reason"]
    assert seats["town_code"].is_unique
    assert not seats.duplicated(["seat_lon", "seat_lat"]).any()


def test_all_twelve_lianzhou_units_match(qingyuan):
    _, (seats, _) = qingyuan
    lz = seats[seats["county_code"] == "441882"].set_index("town")
    assert len(lz) == 12
    assert lz.loc["西岸镇", "seat_name"] == "Xi'an"
    assert lz.loc["保安镇", "seat_name"] == "Bao'an"
    assert lz.loc["东陂镇", "seat_name"] == "Dongbei"
    assert lz.loc["连州镇", "seat_lon"] == pytest.approx(112.3712)
