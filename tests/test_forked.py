"""A step run in a forked process beside the main one (classify.forked), and the pipeline's
tables written that way while the suggestions are worked out."""

import filecmp
import os
import signal
import time
import zipfile

import geopandas as gpd
import pytest

import classify.pipeline as pipeline
from classify.errors import ConfigError
from classify.forked import Forked, can_fork
from classify.pipeline import demo_options, run_pipeline
from geo.errors import InputError

needs_fork = pytest.mark.skipif(not can_fork(), reason="needs fork")


def _fail(message):
    raise ConfigError(message, key="weights")


class _Unpicklable(Exception):
    def __init__(self, message, extra):      # pickle cannot rebuild it from args
        super().__init__(message)
        self.extra = extra

    def __reduce__(self):
        raise TypeError("not picklable")


def _fail_unpicklable():
    raise _Unpicklable("the writer broke", extra=1)


def _pid_and_sum(values):
    return os.getpid(), sum(values)


@needs_fork
def test_the_value_comes_back_from_another_process():
    job = Forked(_pid_and_sum, [1, 2, 3])
    pid, total = job.result()
    assert job.forked and pid != os.getpid() and total == 6
    assert job.seconds is not None and job.seconds >= 0
    assert job.result() == (pid, 6)          # asked again: the same, no second run


def test_without_fork_it_runs_here_when_asked():
    job = Forked(_pid_and_sum, [4, 5], fork=False)
    assert not job.forked and not job.done
    assert job.result() == (os.getpid(), 9)
    assert job.done


@needs_fork
def test_its_error_is_raised_with_its_type_and_message():
    with pytest.raises(ConfigError, match="bad weights") as info:
        Forked(_fail, "bad weights").result()
    assert any("forked process" in note for note in info.value.__notes__)


@needs_fork
def test_an_error_that_cannot_travel_comes_back_as_its_traceback():
    with pytest.raises(RuntimeError, match="_Unpicklable: the writer broke"):
        Forked(_fail_unpicklable).result()


@needs_fork
def test_a_killed_child_is_reported_not_waited_for_forever():
    job = Forked(time.sleep, 30)
    os.kill(job._proc.pid, signal.SIGKILL)
    with pytest.raises(RuntimeError, match="exit code -9"):
        job.result()


@needs_fork
def test_cancel_stops_the_child():
    job = Forked(time.sleep, 30)
    t0 = time.perf_counter()
    job.cancel()
    assert time.perf_counter() - t0 < 10
    assert not job._proc.is_alive() and job.done


# -- the pipeline ------------------------------------------------------------------------------
def _same_files(a, b):
    """Every output file of two runs equal: bytes, except run.json (timings), the GeoPackage
    (GDAL stamps the time of writing) and the workbooks' zip headers (compared by member)."""
    names_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    names_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert names_a == names_b
    for name in names_a:
        if name == "run.json":
            continue
        if name.endswith(".gpkg"):
            assert gpd.read_file(a / name).equals(gpd.read_file(b / name)), name
        elif name.endswith(".xlsx"):
            with zipfile.ZipFile(a / name) as za, zipfile.ZipFile(b / name) as zb:
                assert za.namelist() == zb.namelist()
                for member in za.namelist():
                    assert za.read(member) == zb.read(member), (name, member)
        else:
            assert filecmp.cmp(a / name, b / name, shallow=False), name
    return names_a


@needs_fork
def test_tables_written_beside_the_suggestions_are_the_same_files(tmp_path, monkeypatch):
    inline = run_pipeline(demo_options(tmp_path / "inline", draws=20))
    assert "outputs_wait" not in inline.manifest["timings"]   # 84 towns: written here
    monkeypatch.setattr(pipeline, "TABLES_BESIDE_FROM", 1)
    beside = run_pipeline(demo_options(tmp_path / "beside", draws=20))
    assert {"outputs", "outputs_wait"} <= set(beside.manifest["timings"])
    names = _same_files(tmp_path / "inline", tmp_path / "beside")
    assert {"towns.gpkg", "towns.csv", "towns.xlsx", "rules.csv", "join_report.csv",
            "weights.csv", "clusters.csv", "clusters_k.csv"} <= set(names)
    assert [p.relative_to(tmp_path / "inline") for p in inline.files] == \
        [p.relative_to(tmp_path / "beside") for p in beside.files]


@needs_fork
def test_a_failure_of_the_table_writer_stops_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "TABLES_BESIDE_FROM", 1)

    def broken(*args, **kwargs):
        raise InputError("disk full while writing towns.csv", path="towns.csv")

    monkeypatch.setattr(pipeline, "write_towns", broken)
    with pytest.raises(InputError, match="disk full"):
        run_pipeline(demo_options(tmp_path / "out", draws=20))
    assert not (tmp_path / "out").exists()      # nothing half-written is left


def _slow_tables(*args, **kwargs):
    time.sleep(60)
    return []


@needs_fork
def test_a_failure_elsewhere_stops_the_table_writer(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "TABLES_BESIDE_FROM", 1)
    monkeypatch.setattr(pipeline, "_write_tables", _slow_tables)
    children = []
    real_cancel = Forked.cancel

    def cancel(self):
        children.append(self._proc)
        real_cancel(self)

    def broken_suggest(*args, **kwargs):
        raise RuntimeError("suggestions failed")

    monkeypatch.setattr(Forked, "cancel", cancel)
    monkeypatch.setattr(pipeline, "_suggest", broken_suggest)
    t0 = time.perf_counter()
    with pytest.raises(RuntimeError, match="suggestions failed"):
        run_pipeline(demo_options(tmp_path / "out", draws=20))
    assert time.perf_counter() - t0 < 50          # did not wait for the writer's minute
    assert len(children) == 1 and not children[0].is_alive()
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.partial-*"))


def test_the_run_leaves_the_garbage_collector_as_it_found_it(tmp_path):
    import gc

    gc.unfreeze()                  # whatever an earlier test froze
    result = run_pipeline(demo_options(tmp_path / "out", draws=10))
    assert len(result.towns) == 84
    # the stages froze what they made (kept out of full collections while the run goes
    # on); once it returns, the collector sees those objects again
    assert gc.get_freeze_count() == 0


def _warns_then_returns(x):
    import warnings as w

    from geo.errors import InputWarning

    w.warn("child warning", InputWarning)
    return x


@needs_fork
def test_the_childs_warnings_are_issued_again_in_the_parent():
    import warnings

    from geo.errors import InputWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert Forked(_warns_then_returns, 5).result() == 5
    assert [(w.category, str(w.message)) for w in caught] == [(InputWarning, "child warning")]


def _keeps_writing(*args, **kwargs):
    stage = args[-1]
    while True:                       # recreates the staging folder while it lives
        stage.mkdir(exist_ok=True)
        (stage / "towns.csv").write_text("still writing")
        time.sleep(0.01)


@needs_fork
def test_an_interrupt_stops_the_forked_writer_before_the_staging_folder_goes(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr(pipeline, "TABLES_BESIDE_FROM", 1)
    monkeypatch.setattr(pipeline, "_write_tables", _keeps_writing)

    def interrupted(*args, **kwargs):
        time.sleep(0.2)               # the writer is busy in the staging folder
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "_suggest", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(demo_options(tmp_path / "out", draws=0, static_formats=()))
    time.sleep(0.3)                   # a writer still alive would bring the folder back
    assert [p.name for p in tmp_path.iterdir()] == []


@needs_fork
def test_an_interrupt_while_waiting_stops_the_child():
    import signal

    def alarm(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, alarm)
    job = Forked(time.sleep, 60)
    t0 = time.perf_counter()
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(KeyboardInterrupt):
            job.result()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.perf_counter() - t0 < 10
    assert not job._proc.is_alive() and job.done
