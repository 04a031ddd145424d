"""Writes walkthrough.ipynb (kept as code so the notebook's cells are reviewed as text).

Run: python notebooks/make_walkthrough.py  — the tests execute the notebook it writes.
"""

from pathlib import Path

import nbformat as nbf

CELLS = [
    ("md", """# towntype walkthrough — 清远市镇街分类（示例数据）

One call runs the whole classification (the same pipeline as the `towntype` command);
then, for an analyst, the same steps one by one, changing one of them.

> **Illustrative data.** The Qingyuan indicator values are generated for demonstration
> (not official statistics) and the town boundaries are approximate Thiessen polygons."""),
    ("md", "## 1. One call: the demo, its summary, the map, one town's suggestion"),
    ("code", """import towntype

r = towntype.demo()   # towntype.run(boundaries, indicators) on your files; out=... writes them
r                     # towns per category, and every input row accounted for in the join"""),
    ("code", """r.explore()           # the interactive map of map.html (r.towns is the GeoDataFrame)"""),
    ("code", """one = r.suggestion("东陂镇")
print(one.town, one.category, one.subtype, f"confidence {one.confidence:.0%}")
print("benchmarks:", [b.town for b in one.benchmarks] or [c.town for c in one.challengers])
one.strengths"""),
    ("md", """## 2. The steps, for an analyst who wants to change one

`towntype.steps` holds the functions the pipeline itself calls, in its order (read → join →
indicators → score → categorise with uncertainty → cluster → suggest → map → write); each
takes the run's options and what the step before returned.  Here: CRITIC weights instead of
entropy, and an own taxonomy in which a strong town (强镇) needs the top 10 % on strength."""),
    ("code", """from dataclasses import replace
from pathlib import Path

import pandas as pd
from classify.taxonomy import taxonomy_source
from towntype import steps

strict = Path("strict_taxonomy.toml")
strict.write_text(taxonomy_source("guangdong")[1].replace("threshold = 80", "threshold = 90", 1),
                  encoding="utf-8")
opts = replace(r.options, weighting="critic", taxonomy=str(strict))
inputs = steps.read_inputs(opts)
joined, join_report = steps.join_inputs(opts, inputs.boundaries, inputs.table)
ind = steps.make_indicators(opts, joined, inputs.table)
scored = steps.score_towns(opts, joined, ind)
frame, taxonomy, trace, mc = steps.categorise(opts, steps.assemble(joined, ind, scored), ind, scored)
pd.crosstab(r.towns["category_zh"].rename("demo"), frame["category_zh"].rename("changed"))"""),
    ("md", """## 3. Spatially constrained clusters

The pipeline's clustering step with contiguity-constrained Ward, and the same method as a
scikit-learn estimator (`towntype.estimators`) in a `Pipeline`."""),
    ("code", """from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from towntype.estimators import WardSpatialClusters

frame, clusters, _ = steps.cluster(replace(opts, cluster_method="ward_spatial", k=6), frame, taxonomy)
regions = make_pipeline(StandardScaler(), WardSpatialClusters(frame, n_clusters=6, random_state=2023))
labels = regions.fit(frame[clusters.columns])[-1].labels_
print("same regions as the step:", (pd.crosstab(frame["cluster"], labels) > 0).sum().eq(1).all())
clusters.profiles[["cluster", "n", "name_zh", "name_en"]]"""),
    ("md", """Suggestions and the map follow the same way (`steps.suggest_towns`, `steps.build_map`);
`towntype.run(..., out="folder")` or `towntype demo --out folder` writes every output file."""),
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
