"""Writes walkthrough.ipynb (kept as code so the notebook's cells are reviewed as text).

Run: python notebooks/make_walkthrough.py  — the tests execute the notebook it writes.
"""

from pathlib import Path

import nbformat as nbf

CELLS = [
    ("md", """# towntype walkthrough — 清远市镇街分类（示例数据）

The demo step by step through the Python API: load, join, score, classify, suggest, map.
Every step takes and returns pandas / GeoPandas objects, so you can stop at any step.

> **Illustrative data.** The Qingyuan indicator values are generated for demonstration
> (not official statistics) and the town boundaries are approximate Thiessen polygons."""),
    ("code", """import pandas as pd
from classify.bundled import DEMO, data_dir
from geo.read import read_boundaries
from geo.tables import read_table

root = data_dir()
boundaries, boundary_report = read_boundaries(root / DEMO["boundaries"])
table = read_table(root / DEMO["indicators"])
print(boundary_report.messages)
print(len(boundaries), "boundary features;", len(table.data), "table rows")
table.data.head()"""),
    ("md", "## 1. Join the table to the boundaries — every row accounted for"),
    ("code", """from geo.join import join_towns

joined, join_report = join_towns(boundaries, table)
join_report.groupby(["source", "status"]).size()"""),
    ("code", """join_report[join_report["status"] != "matched"]"""),
    ("md", "## 2. Indicators in the units of the indicator system, then scores"),
    ("code", """from classify.config import load_system
from classify.indicators import build_indicators, recognise
from classify.scoring import score

system = load_system()                       # the built-in default system
recognition = recognise(list(table.data.columns), table.units, system)
indicators, missing_log = build_indicators(joined, recognition, system)
scored = score(indicators, system, weighting="entropy", county=joined["county"])
scored.weights.head(8)"""),
    ("code", """frame = pd.DataFrame(pd.concat([joined[["town_code", "town", "county_code", "county", "declared"]],
                                indicators, scored.scores], axis=1))
frame.sort_values("composite", ascending=False)[["town", "county", "composite", "rank"]].head(10)"""),
    ("md", "## 3. Categories by auditable rules, and how stable they are"),
    ("code", """from classify.rules import category_draws, classify_towns, stability_from_draws
from classify.taxonomy import load_taxonomy
from classify.uncertainty import monte_carlo

taxonomy = load_taxonomy("guangdong")
categories, trace = classify_towns(frame, taxonomy)
mc = monte_carlo(indicators, system, draws=200, seed=2023, county=joined["county"], base=scored)
stability = stability_from_draws(category_draws(frame, taxonomy, mc.dim_scores, mc.dims),
                                 categories["target"].to_numpy())
frame = pd.concat([frame, categories.drop(columns="margin"), stability, mc.rank_summary], axis=1)
frame["category_zh"].value_counts()"""),
    ("code", """trace[trace["town"] == "九陂镇"][["target", "text_zh", "passed"]]"""),
    ("md", "## 4. Clusters by indicator profile, named automatically"),
    ("code", """import geopandas as gpd
from classify.clusters import agreement, cluster_towns

frame = gpd.GeoDataFrame(frame, geometry=joined.geometry, crs=joined.crs)
clusters = cluster_towns(frame, method="kmeans", k="auto", seed=2023)
crosstab, review, reason = agreement(frame, clusters, taxonomy=taxonomy)
frame["cluster"] = clusters.labels
frame["cluster_name"] = clusters.labels.map(lambda c: clusters.names[c][0])
clusters.profiles[["cluster", "n", "name_zh", "name_en"]]"""),
    ("md", "## 5. Self-assessment suggestions (自评分类意见)"),
    ("code", """from classify.suggest import suggest

suggestions = suggest(frame, trace, system, taxonomy, model=scored.model, missing_log=missing_log)
one = next(s for s in suggestions if s.town == "东陂镇")
print(one.town, one.category, one.subtype, f"confidence {one.confidence:.0%}")
print("benchmarks:", [b.town for b in one.benchmarks] or [c.town for c in one.challengers])
one.strengths"""),
    ("md", "## 6. The offline interactive map"),
    ("code", """import tempfile
from pathlib import Path
from classify.pipeline import ATTRIBUTION, DEMO_NOTICE
from geo.maps import save_map, town_map

m = town_map(frame, palette=taxonomy.palette(), title="清远市镇街分类（示例数据）",
             notice=DEMO_NOTICE, attribution=ATTRIBUTION)
path = save_map(m, Path(tempfile.mkdtemp()) / "map.html")
print(path, path.stat().st_size // 1024, "KiB")
m"""),
    ("md", """`towntype demo` runs all of this and writes every output file; see the README."""),
]


def build() -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for kind, text in CELLS:
        nb.cells.append(nbf.v4.new_markdown_cell(text) if kind == "md"
                        else nbf.v4.new_code_cell(text))
    return nb


if __name__ == "__main__":
    path = Path(__file__).with_name("walkthrough.ipynb")
    nb = build()
    for i, cell in enumerate(nb.cells):   # stable ids, so rewriting gives the same bytes
        cell["id"] = f"cell-{i:02d}"
    nbf.write(nb, path)
    print(f"wrote {path}")
