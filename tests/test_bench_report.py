"""The benchmark's target table (``python -m bench``): the verdicts come from the
``towntype run`` and ``towntype sheets`` processes' figures, against issue 14's targets."""

from bench.__main__ import _targets


def _res(run_s, pss_mb, sheets_s, draws=1000):
    cli = {"status": "ok", "process_wall_s": run_s, "process_cpu_s": run_s * 1.5,
           "tree_pss_mb": pss_mb, "tree_processes_at_peak": 1, "tree_interval_s": 1.0}
    sheets = {"status": "ok", "process_wall_s": sheets_s,
              "command": "towntype sheets /tmp/x/cli-40000-s0-d1000 --county 福源县"}
    return {"draws": draws, "sizes": {"40000": {"cli": cli, "sheets": sheets}}}


def test_targets_pass_and_fail_on_the_commands_figures():
    text = "\n".join(_targets(_res(44.0, 2900, 2.5)))
    assert "| 44.0 s | < 45 s | PASS |" in text
    assert "| 2.83 GB | < 3 GB | PASS |" in text
    assert "`towntype sheets RUN --county 福源县`" in text and "| 2.5 s | < 3 s | PASS |" in text
    assert "1,609 towns: `towntype run` | not run | < 8 s | not measured |" in text

    text = "\n".join(_targets(_res(46.0, 3200, 3.5)))
    assert "| 46.0 s | < 45 s | FAIL |" in text
    assert "| 3.12 GB | < 3 GB | FAIL |" in text
    assert "| 3.5 s | < 3 s | FAIL |" in text


def test_fewer_draws_than_the_target_is_not_comparable():
    text = "\n".join(_targets(_res(20.0, 1000, 1.0, draws=100)))
    assert "(ran 100 draws only) | < 45 s | not comparable |" in text


def test_the_whole_page_takes_the_targets_from_the_command_not_the_instrumented_job():
    from bench.__main__ import render

    res = _res(40.0, 2500, 2.0)
    res["sizes"]["40000"]["pipeline"] = {     # the instrumented run: slower, not the target
        "status": "ok", "wall_s": 80.0, "process_wall_s": 82.0, "peak_mb": 3500.0,
        "process_peak_mb": 3500.0, "import_s": 1.0, "timings": {"read": 1.0},
        "stages": [{"stage": "read", "seconds": 1.0, "peak_mb": 200.0}]}
    res.update(machine={"date": "d", "cores": 2, "affinity": 2, "memory_gb": 8.0,
                        "cpu": "c", "os": "o", "python": "3", "versions": {"numpy": "2"},
                        "commit": "abc"}, seed=0, quick=False, command="python -m bench")
    text = render(res)
    targets = text.split("## Machine")[0]
    assert "| 40.0 s | < 45 s | PASS |" in targets and "82.0" not in targets
    assert "as a user runs it: 40.0 s from process start to exit" in text
