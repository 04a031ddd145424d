"""``towntype.run`` / ``towntype.demo`` and the :class:`Result` they return."""

from __future__ import annotations

import html
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

import geopandas as gpd
import pandas as pd

from classify.pipeline import RunOptions, RunResult, build_map, demo_options, run_pipeline

__all__ = ["Result", "run", "demo"]

#: RunOptions fields that hold paths (given as str or Path).
_PATHS = ("counties", "crosswalk", "reference")
_JOIN_BUCKETS = ("matched", "ambiguous", "unmatched", "excluded", "total")


@dataclass(repr=False)
class Result:
    """One finished run: the classified towns and the run's tables.

    Attributes
    ----------
    towns : GeoDataFrame
        One row per matched town: keys, indicators, scores, ``category``,
        ``stability``, ``cluster``, ``review`` … (``towns.gpkg``).
    join_report : DataFrame
        Every boundary feature and table row with its join status (``join_report.csv``).
    weights : DataFrame
        Indicator and dimension weights (``weights.csv``).
    rules : DataFrame
        The rules trace: town × rule, value, threshold, passed (``rules.csv``).
    clusters : DataFrame
        Cluster profiles and names (``clusters.csv``).
    suggestions : list of classify.suggest.Suggestion
        The self-assessment evidence per town, in the order of ``towns``.
    files : list of Path
        Files written (empty when ``out`` was None).
    manifest : dict
        What ``run.json`` holds (options, inputs, counts, warnings, timings).
    options : RunOptions
        The options of the run (change one with :func:`dataclasses.replace` and call the
        steps of :mod:`towntype.steps`).
    detail : dict
        Everything else the run made (``scores``, ``taxonomy``, ``indicators``,
        ``monte_carlo``, ``clusters`` as a ``ClusterResult``, ``crosstab`` …).
    """

    towns: gpd.GeoDataFrame
    join_report: pd.DataFrame
    weights: pd.DataFrame
    rules: pd.DataFrame
    clusters: pd.DataFrame
    suggestions: list
    files: list[Path]
    manifest: dict
    options: RunOptions
    detail: dict = field(default_factory=dict)

    @classmethod
    def from_run(cls, run: RunResult) -> Result:
        """The :class:`Result` of a :class:`classify.pipeline.RunResult`."""
        extra = run.extra
        return cls(towns=run.towns, join_report=run.join_report,
                   weights=extra["scores"].weights, rules=extra["trace"],
                   clusters=extra["clusters"].profiles, suggestions=extra["suggestions"],
                   files=list(run.files), manifest=run.manifest, options=extra["options"],
                   detail=dict(extra))

    # -- looking things up ---------------------------------------------------------------
    def suggestion(self, town: str):
        """The suggestion of one town, by name or town code.

        Raises
        ------
        KeyError
            No town, or more than one town, has that name (give the code then).
        """
        hits = [s for s in self.suggestions if town in (s.town, s.town_code)]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise KeyError(f"no town named or coded {town!r} in this run; "
                           f"e.g. {', '.join(s.town for s in self.suggestions[:3])}")
        raise KeyError(f"{len(hits)} towns are named {town!r} "
                       f"({', '.join(s.town_code for s in hits)}); give the town code")

    def category_counts(self) -> pd.DataFrame:
        """Towns per category: ``category``, ``label`` (Chinese), ``towns``."""
        counts = self.manifest["counts"]
        labels = counts.get("category_labels", {})
        return pd.DataFrame([{"category": c, "label": labels.get(c, c), "towns": n}
                             for c, n in counts.get("categories", {}).items()],
                            columns=["category", "label", "towns"])

    def join_counts(self) -> pd.DataFrame:
        """Join accounting: boundary features and table rows by status."""
        join = self.manifest["counts"]["join"]
        return pd.DataFrame({side: [int(join[side].get(b, 0)) for b in _JOIN_BUCKETS]
                             for side in ("boundaries", "table")},
                            index=list(_JOIN_BUCKETS)).T

    # -- showing it ------------------------------------------------------------------------
    def explore(self, **options):
        """The interactive map of the categories (a ``folium.Map``; shown inline in a
        notebook) — the same map as ``map.html``, drawn by
        :func:`classify.pipeline.build_map`.

        Parameters
        ----------
        **options
            Map options of :class:`RunOptions` to change for this map only (``lang``,
            ``basemap``, ``title`` …).
        """
        opts = replace(self.options, **options) if options else self.options
        d = self.detail
        # popups link to the sheets only when they were written
        return build_map(opts, self.towns, d["taxonomy"], d["indicators"].system,
                         d.get("counties"), self.suggestions, today=d.get("today"),
                         suggestion_links=bool(self.files))

    def _lines(self) -> list[str]:
        counts = self.manifest["counts"]
        join = counts["join"]
        lines = [f"towntype result: {counts['towns']} towns classified — boundary features "
                 f"{join['boundaries']['matched']}/{join['boundaries']['total']} matched, "
                 f"table rows {join['table']['matched']}/{join['table']['total']} matched"]
        left = {side: join[side]["ambiguous"] + join[side]["unmatched"]
                for side in ("boundaries", "table")}
        if any(left.values()):
            lines.append("  not matched (ambiguous or unmatched): "
                         f"{left['boundaries']} boundary features, {left['table']} table "
                         "rows — see result.join_report")
        lines += [f"  {r.label}（{r.category}）: {r.towns}"
                  for r in self.category_counts().itertuples()]
        out = self.manifest.get("out")
        lines.append(f"  files: {len(self.files)} in {out}" if out else
                     "  files: none written (give out= to write them)")
        if self.manifest.get("notice"):
            lines.append(f"  {self.manifest['notice']}")
        return lines

    def __repr__(self) -> str:
        """The summary as text: towns, join accounting, categories, files, data notice."""
        return "\n".join(self._lines())

    def _repr_html_(self) -> str:
        """The summary shown by a notebook: towns per category and the join accounting
        (boundary features and table rows by status)."""
        counts = self.manifest["counts"]
        e = html.escape
        cats = "".join(f"<tr><td>{e(str(r.label))}</td><td>{e(str(r.category))}</td>"
                       f"<td style='text-align:right'>{r.towns}</td></tr>"
                       for r in self.category_counts().itertuples())
        jc = self.join_counts()
        head = "".join(f"<th>{e(b)}</th>" for b in jc.columns)
        join = "".join(f"<tr><th>{e(side)}</th>" + "".join(
            f"<td style='text-align:right'>{v}</td>" for v in row) + "</tr>"
            for side, row in zip(jc.index, jc.to_numpy()))
        out = self.manifest.get("out")
        files = (f"{len(self.files)} files in <code>{e(out)}</code>" if out
                 else "no files written (give <code>out=</code> to write them)")
        notice = (f"<p><small>{e(self.manifest['notice'])}</small></p>"
                  if self.manifest.get("notice") else "")
        return (f"<div><p><b>towntype result</b>: {counts['towns']} towns classified; "
                f"{files}</p>"
                f"<table><caption>分类（categories）</caption><tr><th>类别</th>"
                f"<th>category</th><th>towns</th></tr>{cats}</table>"
                f"<table><caption>匹配（join accounting）</caption><tr><th></th>{head}</tr>"
                f"{join}</table>{notice}</div>")


def _options(boundaries, indicators, *, config, taxonomy, out, **options) -> RunOptions:
    known = {f.name for f in fields(RunOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; towntype.run takes "
                        f"{', '.join(sorted(known - {'boundaries', 'indicators'}))}")
    for key in _PATHS:
        if options.get(key) is not None:
            options[key] = Path(options[key])
    if "designations" in options:
        options["designations"] = tuple(Path(p) for p in options["designations"])
    if "static_formats" in options:
        options["static_formats"] = tuple(options["static_formats"])
    return RunOptions(boundaries=Path(boundaries), indicators=Path(indicators),
                      config=None if config is None else Path(config), taxonomy=str(taxonomy),
                      out=None if out is None else Path(out), **options)


def run(boundaries: str | Path, indicators: str | Path, *, config: str | Path | None = None,
        taxonomy: str | Path = "guangdong", out: str | Path | None = None,
        log: Callable[[str], None] | None = None, **options) -> Result:
    """Classify the towns of an indicator table joined to a boundary file.

    The same pipeline as ``towntype run`` (:func:`classify.pipeline.run_pipeline`);
    files are written only when ``out`` is given.

    Parameters
    ----------
    boundaries, indicators : str or Path
        The boundary file (Shapefile, GeoPackage, GeoJSON, KML …) and the indicator table
        (CSV or workbook).
    config : str or Path, optional
        An indicator-system TOML (``towntype init`` writes a starter); None: the built-in.
    taxonomy : str or Path
        A preset name (``"guangdong"``, ``"county"``) or a taxonomy TOML.
    out : str or Path, optional
        Output folder (replaced whole, as by the command); None: nothing written.
    log : callable, optional
        Receives the run's messages (e.g. ``print``); they are in ``manifest["log"]``
        either way.
    **options
        Any other field of :class:`classify.pipeline.RunOptions`, e.g. ``weighting``,
        ``draws``, ``seed``, ``cluster_method``, ``k``, ``join_on``, ``crosswalk``,
        ``lang``.

    Returns
    -------
    Result

    Raises
    ------
    geo.errors.TowntypeError
        Bad input (``InputError``) or configuration (``ConfigError``), naming the file,
        row or key and how to fix it.
    TypeError
        An option that is not a field of ``RunOptions`` (the message lists them).

    Examples
    --------
    >>> r = towntype.run("towns.shp", "indicators.xlsx", weighting="critic")  # doctest: +SKIP
    >>> r.towns[["town", "category_zh", "stability"]]                        # doctest: +SKIP
    """
    opts = _options(boundaries, indicators, config=config, taxonomy=taxonomy, out=out,
                    **options)
    return Result.from_run(run_pipeline(opts, log=log or (lambda msg: None)))


def demo(out: str | Path | None = None, *, log: Callable[[str], None] | None = None,
         **options) -> Result:
    """The bundled demo (Qingyuan, illustrative data), as ``towntype demo`` runs it.

    Parameters
    ----------
    out : str or Path, optional
        Output folder; None (default): nothing written.
    log : callable, optional
    **options
        Fields of :class:`classify.pipeline.RunOptions` to change (``draws``, ``seed`` …).

    Returns
    -------
    Result
    """
    return Result.from_run(run_pipeline(demo_options(out=out, **options),
                                        log=log or (lambda msg: None)))
