"""GeoDa's methods (``skater_geoda``, ``redcap``) are never called on input that crashes
pygeoda: a contiguity graph in several parts (segmentation fault) or towns that do not
differ (ZeroDivisionError).  Spatially constrained Ward is used instead, and the result
says so (issue 13: small samples handled honestly, never silent)."""

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from libpysal.weights import W

from classify.clusters import _geoda_refusal, cluster_towns

pytest.importorskip("pygeoda")


def _chain(n, cut=None):
    """Towns 0..n-1 in a row; ``cut`` removes the link between ``cut-1`` and ``cut``."""
    nb = {i: [j for j in (i - 1, i + 1) if 0 <= j < n and {i, j} != {cut - 1, cut}]
          for i in range(n)} if cut else \
        {i: [j for j in (i - 1, i + 1) if 0 <= j < n] for i in range(n)}
    return W(nb, id_order=list(range(n)), silence_warnings=True)


def test_refusal_names_the_reason():
    X = np.arange(12.0).reshape(6, 2)
    assert _geoda_refusal(X, _chain(6)) is None
    assert _geoda_refusal(X, _chain(6, cut=3)) == ("邻接关系分成 2 块",
                                                   "the contiguity graph is in 2 parts")
    assert "do not differ" in _geoda_refusal(np.ones((6, 2)), _chain(6))[1]


@pytest.mark.parametrize("method", ["redcap", "skater_geoda"])
def test_towns_all_alike_fall_back_and_say_so(method):
    """pygeoda raised ZeroDivisionError here (its cluster statistics divide by the total
    sum of squares)."""
    frame = pd.DataFrame({"score_industry": [50.0] * 6, "score_tourism": [50.0] * 6})
    res = cluster_towns(frame, method=method, k=2, k_range=[2], n_boot=3,
                        geometry=_chain(6))
    assert len(res.labels) == 6
    assert len(res.messages) == 1
    zh, en = res.messages[0]
    assert zh.startswith(f"{method} 未能使用（各镇街的聚类指标完全相同）")
    assert "ward_spatial" in en


@pytest.mark.parametrize("method", ["redcap", "skater_geoda"])
def test_disconnected_graph_does_not_kill_the_process(method):
    """A graph in two parts made pygeoda segfault (exit -11): run in a child process so a
    regression fails this test instead of taking the session down."""
    code = textwrap.dedent(f"""
        import numpy as np, pandas as pd
        from libpysal.weights import W
        from classify.clusters import cluster_towns
        nb = {{0: [1], 1: [0, 2], 2: [1], 3: [4], 4: [3, 5], 5: [4]}}
        w = W(nb, id_order=list(range(6)), silence_warnings=True)
        frame = pd.DataFrame({{"score_industry": [90.0, 80, 70, 10, 20, 30],
                              "score_tourism": [10.0, 15, 20, 80, 85, 90]}})
        res = cluster_towns(frame, method={method!r}, k=2, k_range=[2], n_boot=3, geometry=w)
        print(sorted(set(res.labels)), res.messages[0][1])
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert "[1, 2]" in proc.stdout
    assert "the contiguity graph is in 2 parts" in proc.stdout


def test_a_connected_graph_still_uses_geoda():
    frame = pd.DataFrame({"score_industry": [90.0, 80, 70, 10, 20, 30],
                          "score_tourism": [10.0, 15, 20, 80, 85, 90]})
    res = cluster_towns(frame, method="redcap", k=2, k_range=[2], n_boot=0,
                        geometry=_chain(6))
    assert res.messages == []
    assert res.labels.tolist() in ([1, 1, 1, 2, 2, 2], [2, 2, 2, 1, 1, 1])
