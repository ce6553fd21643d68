"""The flowload image's entrypoint: ``locust`` with the container's arguments, and a bit more.

What a run on Kubernetes needs around Locust. Each part is off unless its environment variable
is set; with none set, this simply becomes ``locust``.

``FLOWLOAD_SECRET`` and ``FLOWLOAD_SECRET_KEYS``
    Before Locust starts, read these keys (comma-separated) of that Secret, in the pod's own
    namespace with the pod's service account, into environment variables of the same names. The
    Locust operator's ``LocustTest`` takes only literal ``env`` values, so this is how a key gets
    from a Secret into its pods without appearing in any manifest. The service account needs
    ``get`` on that one Secret (deploy/kubernetes/operator/flowload-test.yaml has the Role).
``FLOWLOAD_HOLD_REPORTS_S``
    On the master (``--master``): after Locust exits, if it wrote reports, keep the container
    running for up to this many seconds, or until ``<reports>/.collected`` exists, so the report
    directory can be copied out with ``kubectl cp`` before the pod goes away.
    ``FLOWLOAD_REPORTS`` names the directory (default ``/flowload/reports``).
``FLOWLOAD_EXIT_ZERO``
    Exit 0 whatever Locust's exit code (which is printed): the operator's master Job would
    otherwise start the whole test again after a failed gate.

Errors are one line on stderr and exit code 3 (flowload's "could not run"). Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

EXIT_COULD_NOT_RUN = 3
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_REPORTS = "/flowload/reports"
COLLECTED_FLAG = ".collected"


class EntrypointError(Exception):
    """Something the user must fix before the run can start; the message says what."""


def _service_account() -> tuple[str, Path, str]:
    """(bearer token, CA file, namespace) of the pod's service account."""
    directory = Path(os.environ.get("FLOWLOAD_SERVICEACCOUNT_DIR", SERVICE_ACCOUNT_DIR))
    token_file = directory / "token"
    if not token_file.is_file():
        raise EntrypointError(
            f"FLOWLOAD_SECRET is set but there is no service account token at {token_file}: "
            "run in a Kubernetes pod with automountServiceAccountToken on, or pass the keys as "
            "environment variables and unset FLOWLOAD_SECRET"
        )
    try:
        token = token_file.read_text(encoding="utf-8").strip()
        namespace = (directory / "namespace").read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise EntrypointError(f"cannot read the pod's service account: {exc}") from None
    return token, directory / "ca.crt", namespace


def _api_url(namespace: str, name: str) -> str:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    if not host:
        raise EntrypointError(
            "FLOWLOAD_SECRET is set but KUBERNETES_SERVICE_HOST is not: this is not a pod"
        )
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    authority = f"[{host}]" if ":" in host else host
    return f"https://{authority}:{port}/api/v1/namespaces/{namespace}/secrets/{name}"


def _get_secret(name: str) -> dict[str, str]:
    """The Secret's ``data`` (base64 values), read through the Kubernetes API."""
    token, ca_file, namespace = _service_account()
    request = urllib.request.Request(  # noqa: S310 - an https URL built above
        _api_url(namespace, name),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with urllib.request.urlopen(request, context=context, timeout=15) as response:  # noqa: S310
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise EntrypointError(_http_error(exc.code, name, namespace)) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EntrypointError(
            f"cannot read Secret {name!r} from the Kubernetes API: {reason}"
        ) from None
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


def _http_error(status: int, name: str, namespace: str) -> str:
    if status == 404:
        return (
            f"Secret {name!r} does not exist in namespace {namespace!r}: create it, e.g. "
            f'kubectl create secret generic {name} --from-literal=FLOW_API_KEY="$FLOW_API_KEY"'
        )
    if status in (401, 403):
        return (
            f"the pod's service account may not read Secret {name!r} (HTTP {status}): apply the "
            "Role and RoleBinding of deploy/kubernetes/operator/flowload-test.yaml in namespace "
            f"{namespace!r}"
        )
    return f"reading Secret {name!r} failed with HTTP {status}"


def secret_environment(name: str, keys: list[str]) -> dict[str, str]:
    """The named keys of Secret ``name``, decoded, as environment variables (values stripped)."""
    if not keys:
        raise EntrypointError(
            "FLOWLOAD_SECRET is set but FLOWLOAD_SECRET_KEYS is empty: name the keys to read, "
            "e.g. FLOWLOAD_SECRET_KEYS=FLOW_API_KEY,FLOW_API_KEY_PRODUCTION"
        )
    data = _get_secret(name)
    env: dict[str, str] = {}
    for key in keys:
        if key not in data:
            present = ", ".join(sorted(data)) or "none"
            raise EntrypointError(
                f"Secret {name!r} has no key {key!r} (its keys: {present}): add it, or fix "
                "FLOWLOAD_SECRET_KEYS"
            )
        try:
            env[key] = base64.b64decode(data[key], validate=True).decode("utf-8").strip()
        except (binascii.Error, UnicodeDecodeError, TypeError):
            raise EntrypointError(f"Secret {name!r}: key {key!r} is not UTF-8 text") from None
    return env


def has_reports(reports: Path) -> bool:
    """True when the directory holds a file worth copying (a run that never started has none)."""
    return reports.is_dir() and any(
        p.is_file() and p.name != COLLECTED_FLAG for p in reports.rglob("*")
    )


def wait_for_collection(reports: Path, seconds: float) -> bool:
    """Wait until ``reports/.collected`` exists (True) or ``seconds`` passed (False)."""
    flag = reports / COLLECTED_FLAG
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if flag.exists():
            return True
        time.sleep(0.5)
    return flag.exists()


def _seconds(name: str) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise EntrypointError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise EntrypointError(f"{name} must be >= 0, got {raw!r}")
    return value


def _say(message: str, *, error: bool = False) -> None:
    stream = sys.stderr if error else sys.stdout
    stream.write(f"flowload: {message}\n")
    stream.flush()


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _run_locust(args: list[str], env: dict[str, str]) -> tuple[int, bool]:
    """Run Locust as a child, passing on SIGTERM/SIGINT; (exit code, whether we were signalled)."""
    child = subprocess.Popen(["locust", *args], env=env)  # noqa: S603, S607
    signalled = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal signalled
        signalled = True
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return child.wait(), signalled


def _hold(reports: Path, seconds: float, code: int) -> None:
    pod = os.environ.get("HOSTNAME", "POD")
    _say(
        f"locust exited with code {code}; the reports are in {reports}. Copy them, then let the "
        f"pod finish:\n  kubectl cp {pod}:{reports} ./reports && "
        f"kubectl exec {pod} -- touch {reports}/{COLLECTED_FLAG}"
    )
    _say(f"waiting up to {seconds:g} s")
    collected = wait_for_collection(reports, seconds)
    _say("reports collected" if collected else "stopped waiting for the reports to be collected")


def main(argv: list[str]) -> int:
    """Prepare the environment, run Locust, hold the reports, choose the exit code."""
    env = dict(os.environ)
    try:
        if secret := env.get("FLOWLOAD_SECRET", "").strip():
            keys = [k.strip() for k in env.get("FLOWLOAD_SECRET_KEYS", "").split(",") if k.strip()]
            env |= secret_environment(secret, keys)
        hold_s = _seconds("FLOWLOAD_HOLD_REPORTS_S") if "--master" in argv else 0.0
    except EntrypointError as exc:
        _say(str(exc), error=True)
        return EXIT_COULD_NOT_RUN
    exit_zero = _flag("FLOWLOAD_EXIT_ZERO")
    if not hold_s and not exit_zero:
        # Locust becomes the process (PID 1 in a container): signals go straight to it.
        os.execvpe("locust", ["locust", *argv], env)  # noqa: S606, S607
    code, signalled = _run_locust(argv, env)
    reports = Path(env.get("FLOWLOAD_REPORTS", DEFAULT_REPORTS))
    if hold_s and not signalled and has_reports(reports):
        _hold(reports, hold_s, code)
    if exit_zero and code != 0:
        _say(f"exiting 0 (FLOWLOAD_EXIT_ZERO); locust's exit code was {code}")
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
