"""Bad input never starts a run: each gets exit code 3 and one line on stderr naming the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import run_locust

LITERAL_KEY = "sk-literal-0d9f8e7c6b5a"
BASE = """
[target]
url = "http://127.0.0.1:9"
tenant = "acme"
workspace = "sales"
{target}

[[envs]]
name = "{env}"

[[flows]]
name = "orders"
id = "6f1c2a9e-3b4d-4e5f-8a7b-0c1d2e3f4a5b"
"""

# case -> (scenario text or None for the default, extra args, words the error line must hold)
CASES: dict[str, tuple[str | None, list[str], list[str]]] = {
    "unknown key": (
        BASE.format(target="limit = 300", env="Production"),
        [],
        ["target.limit", "unknown key", "did you mean 'limit_s'"],
    ),
    "wrong type": (
        BASE.format(target='limit_s = "300"', env="Production"),
        [],
        ["target.limit_s", "a number"],
    ),
    "bad env in file": (
        BASE.format(target="", env="Staging"),
        [],
        ["Staging", "Development", "Production"],
    ),
    "bad env option": (
        BASE.format(target="", env="Production"),
        ["--flow-env", "Staging"],
        ["--flow-env", "Staging", "configured: Production"],
    ),
    "bad url": (
        BASE.replace("http://127.0.0.1:9", "ftp//nowhere").format(target="", env="Production"),
        [],
        ["target.url", "http"],
    ),
    "bad host option": (
        BASE.format(target="", env="Production"),
        ["--host", "nowhere"],
        ["--host"],
    ),
    "key given both ways": (
        BASE.format(target='api_key_env = "K"\napi_key_file = "k.txt"', env="Production"),
        [],
        ["api_key_env or api_key_file, not both"],
    ),
    "literal key": (
        BASE.format(target=f'api_key = "{LITERAL_KEY}"', env="Production"),
        [],
        ["literal API key is not allowed", "api_key_env"],
    ),
    "key env var unset": (
        BASE.format(target='api_key_env = "UNSET_FLOWLOAD_KEY"', env="Production"),
        [],
        ["UNSET_FLOWLOAD_KEY is not set", "export UNSET_FLOWLOAD_KEY=<key>"],
    ),
    "bad number option": (None, ["--stall-timeout", "soon"], ["--stall-timeout", "seconds"]),
    "missing CA bundle": (None, ["--ca-bundle", "nope.pem"], ["--ca-bundle", "nope.pem"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_exit_3(tmp_path: Path, case: str) -> None:
    text, extra, words = CASES[case]
    args = ["--headless", "-u", "1", "-r", "1", "-t", "2s", *extra]
    if text is not None:
        scenario = tmp_path / "scenario.toml"
        scenario.write_text(text, encoding="utf-8")
        args += ["--flow-config", str(scenario)]
    proc = run_locust(args, cwd=tmp_path, timeout_s=60)
    assert proc.returncode == 3, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, proc.stderr[-2000:]
    for word in words:
        assert word in errors[0], (word, errors[0])
    assert LITERAL_KEY not in proc.stdout + proc.stderr
    assert not (tmp_path / "reports").exists()  # nothing ran, nothing written
