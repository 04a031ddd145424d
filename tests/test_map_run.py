"""The map ``towntype run`` writes for a partial county (issue 15): no holes, no empty
layers, the user's indicators in the popup, --title/--subtitle on every map."""

from __future__ import annotations

import pandas as pd
import pytest

from classify.bundled import DEMO, data_dir
from classify.cli import main
from tests.test_maps import payload


@pytest.fixture(scope="module")
def partial_run(tmp_path_factory):
    """The demo region with every fifth town's row taken out of the table and the
    tourism indicators dropped (a dimension without data)."""
    tmp = tmp_path_factory.mktemp("partial")
    table = pd.read_csv(data_dir() / DEMO["indicators"], dtype=str)
    tourism = [c for c in table.columns if c.startswith(("接待游客", "旅游收入", "A级景区",
                                                         "传统村落", "文物保护"))]
    assert tourism, "the demo table has tourism columns"
    dropped = table.iloc[::5]
    table.drop(index=dropped.index, columns=tourism).to_csv(tmp / "ind.csv", index=False)
    out = tmp / "out"
    status = main(["run", "--boundaries", str(data_dir() / DEMO["boundaries"]),
                   "--indicators", str(tmp / "ind.csv"), "--out", str(out), "--draws", "0",
                   "--static", "png", "--title", "清远市镇街分类（部分）",
                   "--subtitle", "数据：测试用"])
    assert status == 0
    return out, dropped


def test_every_boundary_feature_is_drawn_and_the_missing_ones_say_why(partial_run):
    out, dropped = partial_run
    data = payload((out / "map.html").read_text(encoding="utf-8"))
    report = pd.read_csv(out / "join_report.csv", encoding="utf-8-sig")
    features = report[report["source"] == "boundaries"]
    assert data["n"] == len(features)                     # no holes
    no_row = features[features["status"] != "matched"]
    assert data["unjoined"] == len(no_row) > 0
    reason = data["props"]["reason"]
    texts = [reason["dict"][i] for i in reason["v"] if i >= 0]
    assert len(texts) == len(no_row)
    assert all(t.startswith("无指标数据：未在指标表中找到") for t in texts)
    missing_names = set(data["props"]["name"][-len(no_row):])
    assert missing_names == set(no_row["town"])


def test_no_layer_for_the_dimension_without_data_and_popup_has_the_given_indicators(
        partial_run):
    out, _ = partial_run
    data = payload((out / "map.html").read_text(encoding="utf-8"))
    ids = [d["id"] for d in data["layers"]]
    assert "score_tourism" not in ids and "score_industry" in ids
    values = [c for c in data["popup"]["cols"] if c["kind"] == "value"]
    labels = [c["label"] for c in values]
    assert any(lb.startswith("地区生产总值") for lb in labels)
    assert not any(lb.startswith("接待游客") for lb in labels)    # not given: not shown
    assert len(values) >= 20                       # every recognised one, not a fixed 8
    groups = list(dict.fromkeys(c["group"] for c in values))
    assert groups[:2] == ["综合实力", "工业"] and "文旅" not in groups


def test_title_and_subtitle_reach_the_map_and_the_static_map(partial_run):
    out, _ = partial_run
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "清远市镇街分类（部分）" in html and "数据：测试用" in html
    assert "<title>清远市镇街分类（部分）</title>" in html
    assert (out / "map.png").stat().st_size > 100_000
