"""``import towntype``: one call for a run, the same pipeline as the command."""

import json
import sys

import folium
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

import towntype
from classify.bundled import DEMO, data_dir
from classify.cli import main
from classify.errors import ConfigError
from classify.clusters import cluster_towns


@pytest.fixture(scope="module")
def demo():
    return towntype.demo(draws=20)


def test_demo_in_memory_writes_nothing_and_returns_the_tables(demo, tmp_path, monkeypatch):
    assert demo.files == [] and demo.manifest["out"] is None
    assert len(demo.towns) == 84 and demo.towns.crs is not None
    assert {"category", "stability", "cluster", "review"} <= set(demo.towns.columns)
    # every input row is in the join report: 84 features + 85 table rows
    assert len(demo.join_report) == 84 + 85
    assert {"town", "target", "rule_id", "passed"} <= set(demo.rules.columns)
    assert set(demo.rules["town"]) == set(demo.towns["town"])
    assert {"indicator", "weight"} <= set(demo.weights.columns)
    assert demo.weights.groupby("dimension")["weight_in_dimension"].sum().round(9).eq(1).all()
    assert len(demo.clusters) == demo.detail["clusters"].k == demo.towns["cluster"].nunique()
    assert [s.town for s in demo.suggestions] == demo.towns["town"].tolist()


def test_run_is_the_command_s_pipeline(demo, tmp_path):
    """towntype.run with out= writes what `towntype run` writes, with the same categories
    and stability as the in-memory run (one route to stability)."""
    root = data_dir()
    written = towntype.run(str(root / DEMO["boundaries"]), root / DEMO["indicators"],
                           out=tmp_path / "lib", draws=20, static_formats=())
    assert main(["run", "--boundaries", str(root / DEMO["boundaries"]),
                 "--indicators", str(root / DEMO["indicators"]), "--out",
                 str(tmp_path / "cli"), "--draws", "20", "--static", "none"]) == 0
    lib = pd.read_csv(tmp_path / "lib" / "towns.csv", dtype=str)
    cli = pd.read_csv(tmp_path / "cli" / "towns.csv", dtype=str)
    pd.testing.assert_frame_equal(lib, cli)
    assert (tmp_path / "lib" / "map.html").is_file() and written.files
    assert_array_equal(written.towns["category"], demo.towns["category"])
    assert_array_equal(written.towns["stability"], demo.towns["stability"])
    run_json = json.loads((tmp_path / "lib" / "run.json").read_text(encoding="utf-8"))
    assert run_json["counts"]["categories"] == demo.manifest["counts"]["categories"]


def test_repr_shows_categories_and_join_accounting(demo):
    text = repr(demo)
    assert "84 towns" in text and "table rows 84/85 matched" in text
    assert "1 table rows" in text and "none written" in text
    page = demo._repr_html_()
    counts = demo.towns["category"].value_counts()
    for cat, n in counts.items():
        assert f"<td>{cat}</td><td style='text-align:right'>{n}</td>" in page
    assert "<th>table</th>" in page and "join accounting" in page
    jc = demo.join_counts()
    assert jc.loc["table", "unmatched"] == 1 and jc.loc["boundaries", "matched"] == 84


def test_explore_is_the_pipeline_map_without_sheet_links(demo):
    m = demo.explore()
    assert isinstance(m, folium.Map)
    page = m.get_root().render()
    assert "东陂镇" in page and "suggestions/" not in page
    assert "Town classification" in demo.explore(lang="en", title="Town classification") \
        .get_root().render()


def test_one_town_s_suggestion(demo):
    one = demo.suggestion("东陂镇")
    assert one.town == "东陂镇" and one.category in set(demo.towns["category"])
    assert demo.suggestion(one.town_code) is one
    with pytest.raises(KeyError, match="no town named or coded '不存在镇'"):
        demo.suggestion("不存在镇")


def test_demo_options_of_either_level_can_write_nothing():
    """out=None (in memory) holds for the county demo as for the towns'; each keeps its
    own files, notice and datum."""
    from classify.pipeline import DEMO_NOTICE, demo_options

    town = demo_options(out=None)
    county = demo_options(out=None, level="county")
    assert town.out is None and county.out is None
    assert town.indicators == data_dir() / DEMO["indicators"]
    assert town.counties == data_dir() / DEMO["counties"] and town.notice == DEMO_NOTICE
    assert county.indicators.name == "guangdong_counties_demo.csv"
    assert county.counties is None and county.datum == "wgs84"
    assert county.notice.startswith("示例数据：县域指标") and county.title != town.title


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(TypeError, match=r"unknown option\(s\) wieghting; .*weighting"):
        towntype.run("a.geojson", "b.csv", wieghting="critic")


def test_bad_input_is_an_input_error_naming_the_file(tmp_path):
    table = tmp_path / "towns.csv"
    table.write_text("镇街,GDP\n甲镇,1\n", encoding="utf-8")
    with pytest.raises(towntype.InputError, match=r"nope\.geojson: .*file not found"):
        towntype.run(tmp_path / "nope.geojson", table)
    assert [p.name for p in tmp_path.iterdir()] == ["towns.csv"]


def test_missing_pygeoda_names_the_extra(monkeypatch):
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert any(d.startswith("pygeoda") for d in project["project"]["optional-dependencies"]["geoda"])
    assert not any(d.startswith("pygeoda") for d in project["project"]["dependencies"])
    monkeypatch.setitem(sys.modules, "pygeoda", None)      # import pygeoda → ImportError
    frame = pd.DataFrame({"score_industry": np.arange(6.0), "score_tourism": np.ones(6)})
    from libpysal.weights import lat2W
    with pytest.raises(ConfigError, match=r'pip install "towntype\[geoda\]"'):
        cluster_towns(frame, method="redcap", k=2, geometry=lat2W(2, 3), n_boot=0)


def test_facade_exports_what_it_lists():
    for mod in (towntype, towntype.steps, towntype.estimators):
        assert all(hasattr(mod, name) for name in mod.__all__)
    assert towntype.compare.__name__ == "compare_runs"


def test_api_reference_lists_the_public_surface():
    """docs/API.md (python docs/make_api.py) names every export of the facade."""
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "API.md").read_text(encoding="utf-8")
    for mod in (towntype, towntype.steps, towntype.estimators):
        assert f"## `{mod.__name__}`" in text
        missing = [n for n in mod.__all__ if f"`{n}" not in text and f".{n}`" not in text]
        assert not missing, f"{mod.__name__}: {missing} not in docs/API.md"


def test_the_steps_one_by_one_give_the_run_s_categories_and_stability(demo):
    """The notebook's route (towntype.steps) is the pipeline's: same frame, same stability."""
    from towntype import steps

    opts = demo.options
    inputs = steps.read_inputs(opts)
    joined, report = steps.join_inputs(opts, inputs.boundaries, inputs.table)
    ind = steps.make_indicators(opts, joined, inputs.table)
    scored = steps.score_towns(opts, joined, ind)
    frame, taxonomy, trace, mc = steps.categorise(opts, steps.assemble(joined, ind, scored),
                                                  ind, scored)
    frame, clusters, _ = steps.cluster(opts, frame, taxonomy)
    assert len(report) == len(demo.join_report)
    for col in ("town_code", "category", "target", "stability", "cluster"):
        assert_array_equal(frame[col].to_numpy(), demo.towns[col].to_numpy(), err_msg=col)
    suggestions = steps.suggest_towns(opts, frame, trace, ind, taxonomy, scored)
    assert [s.category for s in suggestions] == [s.category for s in demo.suggestions]


def test_the_steps_take_options_made_by_hand_with_the_level_left_to_auto(demo):
    """A notebook's own RunOptions keep level="auto"; the steps after reading take it as
    the town level (as read_inputs does without codes saying otherwise) instead of failing
    on "unknown level 'auto'" in designate and suggest_towns."""
    from classify.designations import demo_designations
    from classify.pipeline import RunOptions
    from towntype import steps

    root = data_dir()
    opts = RunOptions(boundaries=root / DEMO["boundaries"], indicators=root / DEMO["indicators"],
                      out=None, draws=20, designations=demo_designations(root))
    assert opts.level == "auto"
    said = []
    inputs = steps.read_inputs(opts, log=said.append)    # a notebook sees what was read
    assert inputs.level.id == "town"
    assert said and all(isinstance(m, str) for m in said)
    joined, _ = steps.join_inputs(opts, inputs.boundaries, inputs.table)
    ind = steps.make_indicators(opts, joined, inputs.table)
    scored = steps.score_towns(opts, joined, ind)
    frame, taxonomy, trace, _ = steps.categorise(opts, steps.assemble(joined, ind, scored),
                                                 ind, scored)
    lines = []
    frame, result = steps.designate(opts, frame, taxonomy, log=lines.append)
    assert result is not None and "designations" in frame.columns
    assert lines == list(result.lines) and lines
    suggestions = steps.suggest_towns(opts, frame, trace, ind, taxonomy, scored)
    assert len(suggestions) == len(frame) == 84
    assert {s.extra["level"] for s in suggestions} == {"town"}
    assert [s.category for s in suggestions] == [s.category for s in demo.suggestions]
