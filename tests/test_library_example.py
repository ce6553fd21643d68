"""The README's library example runs as written, against the bundled simulator, without Locust."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from harness.simulator import SimulatorProcess

REPO = Path(__file__).resolve().parents[1]
KEY = "library-example-key-5b2e"
FLOW_ID = "6f1c2a9e-3b4d-4e5f-8a7b-0c1d2e3f4a5b"  # the simulator's orders-export


def readme_example() -> str:
    """The python block under "Using the library without Locust" in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Using the library without Locust", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the README's library section has no python block"
    return found.group(1)


def run_python(code: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra_env}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_the_readme_example_measures_a_stream() -> None:
    with SimulatorProcess([], api_key=KEY) as sim:
        proc = run_python(
            readme_example(), {"FLOW_URL": sim.url, "FLOW_ID": FLOW_ID, "FLOW_API_KEY": KEY}
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    outcome, ttfi_s, items, job_id = proc.stdout.split()
    assert outcome == "ok"
    assert float(ttfi_s) > 0
    assert int(items) > 0
    assert job_id != "None"
    assert KEY not in proc.stdout + proc.stderr


def test_the_library_surface_does_not_import_locust() -> None:
    code = (
        "import sys, harness as fl\n"
        "names = [getattr(fl, n) for n in fl.__all__]\n"
        "print(len(names), 'locust' in sys.modules)\n"
    )
    proc = run_python(code, {})
    assert proc.returncode == 0, proc.stderr[-2000:]
    count, locust_loaded = proc.stdout.split()
    assert int(count) == len(__import__("harness").__all__)
    assert locust_loaded == "False"


def test_every_public_name_is_listed_once() -> None:
    import harness

    assert sorted(harness.__all__) == sorted({*harness._EXPORTS, "__version__"})
