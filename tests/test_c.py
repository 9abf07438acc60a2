"""Runs the C test programs in BUILD/tests/: each lists its cases with
--list and runs one case given its name. Exit 0 = pass, 77 = skip (the
program prints why), anything else = fail."""
import os
import subprocess
import pytest
from conftest import BUILD

TIMEOUT = 120


def c_cases():
    d = os.path.join(BUILD, "tests")
    if not os.path.isdir(d):
        return []
    cases = []
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            continue
        out = subprocess.run([path, "--list"], capture_output=True,
                             text=True, timeout=30).stdout
        cases += [pytest.param(path, c, id=f"{name}:{c}")
                  for c in out.split()]
    return cases


@pytest.mark.parametrize("prog,case", c_cases())
def test_c(prog, case):
    r = subprocess.run([prog, case], capture_output=True, text=True,
                       timeout=TIMEOUT)
    if r.returncode == 77:
        pytest.skip((r.stdout + r.stderr).strip().splitlines()[-1]
                    if (r.stdout + r.stderr).strip() else "skipped")
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
