"""Official designations: registry, reading, joining, evidence check, agreement table,
and the demo / CLI end to end (classify/designations.py)."""

import math

import pandas as pd
import pytest

from classify.cli import main
from classify.bundled import DEMO, data_dir
from classify.designations import (apply_designations, load_registry, read_designations,
                                   with_designations)
from classify.errors import ConfigError
from classify.taxonomy import load_taxonomy
from geo.errors import InputError
from geo.published import PublishedNames

AGRI = "国家农业产业强镇（创建名单）"


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy("guangdong")


@pytest.fixture
def frame():
    """Four classified Qingyuan towns; agriculture scores 40, 90, 70, 10 (东陂 is 3rd of 4)."""
    return pd.DataFrame({
        "town_code": ["441882107", "441881136", "441823105", "441882100"],
        "town": ["东陂镇", "英红镇", "七拱镇", "连州镇"],
        "county_code": ["441882", "441881", "441823", "441882"],
        "county": ["连州市", "英德市", "阳山县", "连州市"],
        "target": ["specialised/commercial", "specialised/agricultural",
                   "characteristic/tourism", "strong"],
        "category": ["specialised", "specialised", "characteristic", "strong"],
        "subtype": ["commercial", "agricultural", "tourism", None],
        "category_zh": ["专业镇", "专业镇", "特色镇", "综合实力强镇"],
        "subtype_zh": ["商贸", "农业", "文旅", None],
        "secondary": ["", "", "specialised/agricultural", ""],
        "roles": ["central", "", "", "urban"],
        "score_agriculture": [40.0, 90.0, 70.0, 10.0],
        "score_strength": [60.0, 20.0, 30.0, 95.0],
        "review": [True, False, False, False],
        "review_reason": ["已有原因", None, None, None],
        "review_reason_en": ["earlier reason", None, None, None],
    })


def _csv(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def published(tmp_path):
    return _csv(tmp_path / "list.csv", (
        "designation,batch_year,province,entry_as_published,industry\n"
        f"{AGRI},2018,广东省,连州市东陂镇,腊味\n"
        f"{AGRI},2019,广东省,英德市英红镇,英德红茶\n"
        f"{AGRI},2019,广东省,阳山县七拱镇,丝苗米\n"
        f"{AGRI},2018,广东省,始兴县马市镇,\n"
        f"{AGRI},2018,广东省,和平农场,\n"
        f"{AGRI},2020,广东省,城东镇,\n"
        f"{AGRI},2021,广东省,连州市星子镇,\n"
        "市级乡村振兴示范镇,2022,广东省,连州市连州镇,\n"))


# ----------------------------------------------------------------------- registry
def test_registry_finds_designations_by_name_alias_and_bracketed_form():
    reg = load_registry()
    assert reg.find(AGRI).id == "agri_strong_town"
    assert reg.find("农业产业强镇").id == "agri_strong_town"
    assert reg.find("中国历史文化名镇").implies == "characteristic/tourism"
    assert reg.find("市级乡村振兴示范镇") is None


def test_specialised_town_takes_its_subtype_from_the_industry():
    reg = load_registry()
    d = reg.find("省级专业镇")
    assert reg.implied(d, "英德红茶") == "specialised/agricultural"
    assert reg.implied(d, "商贸物流") == "specialised/commercial"
    assert reg.implied(d, "陶瓷") == "specialised/industrial"
    assert reg.implied(d, "") == "specialised"


def test_user_toml_extends_the_registry(tmp_path):
    toml = _csv(tmp_path / "mine.toml", (
        '[designations.village_demo]\nzh = "市级乡村振兴示范镇"\nen = "City rural '
        'revitalisation demonstration town"\nlevel = "city"\n'
        'implies = "specialised/agricultural"\n'))
    reg = load_registry([toml])
    assert reg.find("市级乡村振兴示范镇").level == "city"
    assert reg.find(AGRI).id == "agri_strong_town"        # built-ins kept


def test_registry_errors_name_file_and_key(tmp_path):
    bad = _csv(tmp_path / "bad.toml",
               '[designations.x]\nzh = "某称号"\nen = "x"\nlevel = "county"\n')
    with pytest.raises(ConfigError, match="level must be one of national, provincial, city"
                       ) as err:
        load_registry([bad])
    assert err.value.key == "designations.x.level" and err.value.path == str(bad)
    typo = _csv(tmp_path / "typo.toml", '[designation.x]\nzh = "某"\n')
    with pytest.raises(ConfigError, match="unknown top-level table"):
        load_registry([typo])


# ----------------------------------------------------------------------- reading
def test_reads_code_and_county_name_columns(tmp_path):
    reg, res = load_registry(), PublishedNames(province="44")
    by_code = _csv(tmp_path / "codes.csv", f"统计代码,称号,年份\n441882107,{AGRI},2018\n")
    e = read_designations(by_code, reg, res)
    assert (e.loc[0, "town"], e.loc[0, "how"], e.loc[0, "year"]) == ("东陂镇", "code", 2018)
    parts = _csv(tmp_path / "parts.csv", "县区,乡镇,称号,年份\n台山县,斗山镇,千强镇,2020\n")
    e = read_designations(parts, reg, res)
    assert e.loc[0, "town_code"] == "440781106" and "rule 县→市" in e.loc[0, "how"]
    assert e.loc[0, "implies"] == "strong"


def test_missing_designation_file_names_the_flag(tmp_path, frame, taxonomy):
    with pytest.raises(InputError, match="check the --designations path"):
        apply_designations([tmp_path / "nope.csv"], frame, taxonomy)


def test_file_without_designation_column_or_with_a_bad_year(tmp_path):
    reg, res = load_registry(), PublishedNames(province="44")
    none = _csv(tmp_path / "none.csv", "统计代码,年份\n441882107,2018\n")
    with pytest.raises(InputError, match="no designation column"):
        read_designations(none, reg, res)
    year = _csv(tmp_path / "year.csv", f"统计代码,称号,年份\n441882107,{AGRI},去年\n")
    with pytest.raises(InputError, match="year '去年' is not a year") as err:
        read_designations(year, reg, res)
    assert err.value.row == 2 and err.value.column == "年份"


# ----------------------------------------------------------------------- assessment
def test_every_entry_gets_a_status_and_reason(published, frame, taxonomy):
    _, result = apply_designations([published], frame, taxonomy)
    rep = result.report.set_index("entry")
    assert len(rep) == 8
    assert rep.loc["连州市东陂镇", "status"] == "matched"
    assert rep.loc["始兴县马市镇", "status"] == "not_in_region"
    assert rep.loc["和平农场", "status"] == "not_township"
    assert rep.loc["城东镇", "status"] == "ambiguous"
    assert "441403101" in rep.loc["城东镇", "reason"]
    # in the region's counties but not a town of the run
    assert rep.loc["连州市星子镇", "status"] == "unmatched"
    assert "not among the run's towns" in rep.loc["连州市星子镇", "reason"]
    assert rep.loc["连州市东陂镇", "source_row"] == 2


def test_evidence_text_supported_secondary_and_not_supported(published, frame, taxonomy):
    _, result = apply_designations([published], frame, taxonomy)
    rep = result.report.set_index("entry")
    assert rep.loc["英德市英红镇", "evidence_zh"] == \
        "国家农业产业强镇（2019，英德红茶）：指标支持专业镇·农业"
    assert rep.loc["阳山县七拱镇", "evidence"] == "secondary"
    assert rep.loc["连州市东陂镇", "evidence_zh"] == \
        "国家农业产业强镇（2018，腊味）：农业得分第3/4，未达专业镇·农业阈值"
    assert rep.loc["连州市东陂镇", "evidence_en"].endswith(
        "agriculture score rank 3/4, below the Specialised town · agricultural thresholds")


def test_unsupported_designation_flags_the_town_for_review(published, frame, taxonomy):
    out, _ = apply_designations([published], frame, taxonomy)
    out = out.set_index("town")
    assert bool(out.loc["东陂镇", "review"])
    assert out.loc["东陂镇", "review_reason"] == \
        "已有原因；国家农业产业强镇（2018，腊味）：农业得分第3/4，未达专业镇·农业阈值"
    assert out.loc["东陂镇", "review_reason_en"].startswith("earlier reason; ")
    assert not bool(out.loc["英红镇", "review"])     # supported: no flag
    assert not bool(out.loc["七拱镇", "review"])     # secondary type: supported
    assert out.loc["东陂镇", "designation_key"] == "国家农业产业强镇"
    assert out.loc["连州镇", "designation_key"] == "市级乡村振兴示范镇"


def test_agreement_table_and_console_lines(published, frame, taxonomy):
    _, result = apply_designations([published], frame, taxonomy, illustrative=True)
    t = result.table.set_index("designation_id")
    agri = t.loc["agri_strong_town"]
    assert (agri["designated_towns"], agri["in_category"], agri["secondary"]) == (3, 1, 1)
    assert math.isclose(agri["recall"], 1 / 3)
    assert "东陂镇（连州市，2018）：专业镇·商贸" in agri["disagreements"]
    assert "七拱镇（阳山县，2019）：特色镇·文旅" in agri["disagreements"]
    assert (agri["not_township"], agri["not_in_region"], agri["ambiguous"],
            agri["unmatched"]) == (1, 1, 1, 1)
    assert "illustrative" in agri["note"]
    line = next(x for x in result.lines if "国家农业产业强镇" in x)
    assert "本区域 3 个镇" in line and "recall 33%" in line and "示例数据" in line


def test_unknown_designation_works_with_a_clear_note(published, frame, taxonomy):
    out, result = apply_designations([published], frame, taxonomy)
    rep = result.report.set_index("entry")
    assert rep.loc["连州市连州镇", "status"] == "matched"
    assert "designation not in registry" in rep.loc["连州市连州镇", "note"]
    assert rep.loc["连州市连州镇", "evidence"] == "not checked"
    row = result.table.set_index("designation_id").loc["市级乡村振兴示范镇"]
    assert row["designated_towns"] == 1 and "not in registry" in row["note"]
    assert any("市级乡村振兴示范镇" in x and "未核验" in x for x in result.lines)
    assert "称号不在登记表中" in out.set_index("town").loc["连州镇", "designations"]


def test_user_registry_given_with_designations_checks_the_new_designation(
        published, frame, taxonomy, tmp_path):
    toml = _csv(tmp_path / "mine.toml", (
        '[designations.village_demo]\nzh = "市级乡村振兴示范镇"\nen = "Village demo town"\n'
        'level = "city"\nimplies = "strong"\n'))
    _, result = apply_designations([published, toml], frame, taxonomy)
    rep = result.report.set_index("entry")
    assert rep.loc["连州市连州镇", "evidence_zh"] == "市级乡村振兴示范镇（2022）：指标支持综合实力强镇"


def test_implied_target_unknown_to_the_taxonomy_is_a_config_error(
        published, frame, taxonomy, tmp_path):
    toml = _csv(tmp_path / "mine.toml", (
        '[designations.village_demo]\nzh = "市级乡村振兴示范镇"\nen = "x"\n'
        'level = "city"\nimplies = "specialised/fishing"\n'))
    with pytest.raises(ConfigError, match="'specialised/fishing', which taxonomy"):
        apply_designations([published, toml], frame, taxonomy)


def test_with_designations_on_a_frame_without_review_columns(frame):
    bare = frame.drop(columns=["review", "review_reason", "review_reason_en"])
    towns = pd.DataFrame({"designations": ["x", "", "", ""], "designations_en": ["x", "", "", ""],
                          "designation_key": ["k", "", "", ""],
                          "designation_review": ["不支持", "", "", ""],
                          "designation_review_en": ["no", "", "", ""]}, index=bare.index)
    out = with_designations(bare, towns)
    assert out["review"].tolist() == [True, False, False, False]
    assert out.loc[0, "review_reason"] == "不支持" and pd.isna(out.loc[1, "review_reason"])


# ----------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_demo_joins_all_seven_qingyuan_designations(demo_run):
    out, _ = demo_run
    rep = pd.read_csv(out / "designations_report.csv", dtype=str, encoding="utf-8-sig")
    assert len(rep) == 92                                  # every row of the list
    matched = rep[rep["status"] == "matched"]
    # the NBS codes of the seven Qingyuan entries (SOURCES.md), looked up by hand
    assert dict(zip(matched["town_code"], matched["year"])) == {
        "441882107": "2018", "441881136": "2019", "441823105": "2019", "441803105": "2020",
        "441881110": "2021", "441825100": "2023", "441821101": "2024"}
    assert rep["status"].value_counts().to_dict() == {
        "not_in_region": 74, "not_township": 11, "matched": 7}
    table = pd.read_csv(out / "designations.csv", encoding="utf-8-sig")
    assert table.loc[0, "designated_towns"] == 7 and "illustrative" in table.loc[0, "note"]
    sheet = next((out / "suggestions").glob("441882107_*.md")).read_text(encoding="utf-8")
    assert "国家农业产业强镇（2018，腊味）：" in sheet
    towns = pd.read_csv(out / "towns.csv", dtype={"town_code": str}, encoding="utf-8-sig")
    assert towns.set_index("town_code").loc["441882107", "designation_key"] == "国家农业产业强镇"
    html = (out / "map.html").read_text(encoding="utf-8")
    assert '"id": "designations"' in html or '"id":"designations"' in html


@pytest.mark.slow
def test_demo_yaoan_comes_out_as_tourism_as_its_profile_says(demo_run):
    out, _ = demo_run
    towns = pd.read_csv(out / "towns.csv", dtype={"town_code": str}, encoding="utf-8-sig")
    yaoan = towns.set_index("town_code").loc["441882200"]
    assert (yaoan["town"], yaoan["category"], yaoan["subtype"]) == \
        ("瑶安瑶族乡", "characteristic", "tourism")


@pytest.mark.slow
def test_cli_run_with_user_designations_and_registry(tmp_path, capsys):
    root = data_dir()
    mine = _csv(tmp_path / "mine.csv", (
        "县区,乡镇,称号,年份,主导产业\n连州市,东陂镇,广东省专业镇,2015,腊味\n"
        "连州市,保安镇,市级乡村振兴示范镇,2022,\n"))
    out = tmp_path / "out"
    code = main(["run", "--boundaries", str(root / DEMO["boundaries"]),
                 "--indicators", str(root / DEMO["indicators"]), "--designations", str(mine),
                 "--out", str(out), "--draws", "0", "--static", "none"])
    assert code == 0
    err = capsys.readouterr().err
    assert "官方称号 广东省专业镇：本区域 1 个镇" in err
    rep = pd.read_csv(out / "designations_report.csv", dtype=str, encoding="utf-8-sig")
    assert rep["status"].tolist() == ["matched", "matched"]
    assert rep.loc[0, "implies"] == "specialised/agricultural"     # 腊味 → agricultural
    assert "designation not in registry" in rep.loc[1, "note"]


def test_xlsx_list_and_an_empty_list(tmp_path, frame, taxonomy):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["县区", "乡镇", "称号", "年份", "主导产业"])
    ws.append(["英德市", "英红镇", AGRI, 2019, "英德红茶"])
    wb.save(tmp_path / "list.xlsx")
    out, result = apply_designations([tmp_path / "list.xlsx"], frame, taxonomy)
    assert result.report["status"].tolist() == ["matched"]
    assert result.report.loc[0, "evidence"] == "primary"
    empty = _csv(tmp_path / "empty.csv", "统计代码,称号,年份\n")
    with pytest.raises(InputError, match="no data rows below the header"):
        apply_designations([empty], frame, taxonomy)


def test_map_layer_and_popup_show_designations():
    from geo.maps import (LayerSpec, _build_layer, _popup_payload, _translator,
                          available_layers)

    towns = pd.DataFrame({
        "town_code": ["1", "2", "3"], "town": ["甲镇", "乙镇", "丙镇"],
        "category": ["strong"] * 3,
        "designation_key": ["国家农业产业强镇", "", "multiple"],
        "designation_key_en": ["National agricultural industry strong town", "", "multiple"],
        "designations": ["国家农业产业强镇（2018，腊味）：指标支持专业镇·农业", "", "a；b"],
        "designations_en": ["National … (2018): supported", "", "a; b"]})
    assert "designations" in available_layers(towns)
    en = _build_layer(towns, LayerSpec("designations"), {"t": _translator("en"), "lang": "en"})
    legend = en["legend"]
    assert [e["label"] for e in legend] == ["National agricultural industry strong town",
                                            "several", "none"]
    assert en["classes"] == [0, 2, 1] and en["missing"] == 0
    assert legend[0]["stroke"] == "#111111" and en["label"] == "Official designations"
    zh = _build_layer(towns, LayerSpec("designations"), {"t": _translator("zh"), "lang": "zh"})
    assert [e["label"] for e in zh["legend"]] == ["国家农业产业强镇", "多项称号", "无称号"]
    popup = {c["label"]: c for c in
             _popup_payload(towns, _translator("zh"), "zh", None)["cols"]}
    col = popup["官方称号"]        # text once in a dictionary, an index per town
    assert col["dict"][col["v"][0]] == "国家农业产业强镇（2018，腊味）：指标支持专业镇·农业"
