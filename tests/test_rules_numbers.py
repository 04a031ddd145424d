"""The rule trace prints numbers exactly as Python's format would (the Arrow fast path)."""
import numpy as np

from classify.rules import _num


def test_numbers_print_as_python_formats_them():
    values = np.array([0.0, -0.0, -0.3, -0.5, 0.5, 1.5, 2.5, -2.5, 3.49, 7.0, -7.0, 1e6 + 0.5,
                       2.0 ** 53, 2.0 ** 53 + 2, -2.0 ** 60, 1e300, np.inf, -np.inf, np.nan,
                       0.49999999999999994, 12.345, 12.345])
    for integer in (True, False, np.arange(len(values)) % 2 == 0):
        got = _num(values, integer).to_pylist()
        flags = np.broadcast_to(integer, values.shape)
        want = ["NA" if np.isnan(v) else f"{v:.0f}" if i else f"{v:.2f}"
                for v, i in zip(values.tolist(), flags.tolist())]
        assert got == want
    assert _num(np.array([-0.3, 0.3]), True).to_pylist() == ["-0", "0"]
