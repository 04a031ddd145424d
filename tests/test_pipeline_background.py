"""Sheets written by a forked process while the maps and outputs are made."""

import filecmp
import os

import pytest

import classify.pipeline as pipeline
from classify.pipeline import _Child, demo_options, run_pipeline
from classify.errors import ConfigError

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def test_background_sheets_are_the_same_files(tmp_path, monkeypatch):
    inline = run_pipeline(demo_options(tmp_path / "inline", draws=20))
    monkeypatch.setattr(pipeline, "BACKGROUND_SHEETS_FROM", 1)   # the demo's 84 towns
    background = run_pipeline(demo_options(tmp_path / "bg", draws=20))
    assert "sheets" in background.manifest["timings"]
    assert "sheets" not in inline.manifest["timings"]
    names = sorted(p.relative_to(tmp_path / "inline").as_posix() for p in inline.files)
    assert names == sorted(p.relative_to(tmp_path / "bg").as_posix() for p in background.files)
    sheets = sorted((tmp_path / "inline" / "suggestions").glob("*.*"))
    assert len(sheets) == 2 * 84 + 1
    for f in sheets:                  # sheets and workbook, byte for byte
        assert filecmp.cmp(f, tmp_path / "bg" / "suggestions" / f.name, shallow=False), f


def _fail(message):
    raise ConfigError(message, key="k")


def test_child_returns_its_value_and_raises_its_error():
    assert _Child(sorted, [3, 1, 2]).result() == [1, 2, 3]
    with pytest.raises(ConfigError, match="bad sheet"):
        _Child(_fail, "bad sheet").result()


def test_a_failure_elsewhere_stops_the_sheet_writer(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "BACKGROUND_SHEETS_FROM", 1)
    stopped = []
    real_cancel = _Child.cancel

    def cancel(self):
        stopped.append(True)
        real_cancel(self)

    def broken_map(*args, **kwargs):
        raise RuntimeError("map failed")

    monkeypatch.setattr(_Child, "cancel", cancel)
    monkeypatch.setattr(pipeline, "_map", broken_map)
    with pytest.raises(RuntimeError, match="map failed"):
        run_pipeline(demo_options(tmp_path / "out", draws=20))
    assert stopped == [True]
    assert not (tmp_path / "out").exists()      # nothing half-written is left
