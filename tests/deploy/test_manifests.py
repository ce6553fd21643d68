"""deploy/: the image, the Locust operator's LocustTest, the plain manifests and Compose agree.

They are parsed and checked against each other, against the scenario they run (its key variable
names) and against the operator's published CRD schema (a copy in fixtures/, source named there).
Nothing here needs a cluster or a container engine.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.config import load_scenario
from tests.deploy.crd_schema import problems

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBE = DEPLOY / "kubernetes"
CRD_SPEC = Path(__file__).parent / "fixtures" / "locusttest-crd-spec-0.1.6.yaml"
# The operator mounts the locustfile ConfigMap here (LOCUST_BASE_PATH in locust_operator/objects.py,
# same commit as the CRD copy) and adds --master, or --worker --master-host, to spec.args.
OPERATOR_MOUNT = "/home/locust"
SECRET = "flow-api-keys"  # noqa: S105 - the name of the Secret holding the keys
CONFIGMAP = "flowload-scenario"
REPORTS = "/flowload/reports"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _named(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in _docs(path)}


def _scenario_keys() -> set[str]:
    """The variable names the scenario reads its keys from (and it reads them from nothing else)."""
    scenario = load_scenario(KUBE / "scenario.toml")
    assert scenario.api_key_file is None
    assert all(e.api_key_file is None for e in scenario.envs)
    names = {scenario.api_key_env, *(e.api_key_env for e in scenario.envs)}
    return {n for n in names if n}


def _option(args: list[str], name: str) -> str:
    for i, arg in enumerate(args):
        if arg == name:
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} missing from {args}")


def _locusttest() -> dict[str, Any]:
    return _named(KUBE / "flowload-test.yaml")[("LocustTest", "flowload")]


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def test_scenario_keys_are_variables() -> None:
    assert _scenario_keys() == {"FLOW_API_KEY", "FLOW_API_KEY_PRODUCTION"}


# --- the Locust operator ------------------------------------------------------------------------


def test_operator_manifest_kinds_and_names() -> None:
    docs = _named(KUBE / "flowload-test.yaml")
    assert set(docs) == {
        ("Role", "flowload-read-keys"),
        ("RoleBinding", "flowload-read-keys"),
        ("LocustTest", "flowload"),
    }
    assert _locusttest()["apiVersion"] == "locust.io/v1"


def test_locusttest_uses_only_fields_of_the_operator_crd() -> None:
    schema = yaml.safe_load(CRD_SPEC.read_text(encoding="utf-8"))["spec"]
    assert problems(_locusttest()["spec"], schema) == []


def test_the_crd_would_drop_an_env_value_from_a_secret() -> None:
    """Why the keys travel by FLOWLOAD_SECRET: the CRD's env items are {name, value} only."""
    schema = yaml.safe_load(CRD_SPEC.read_text(encoding="utf-8"))["spec"]
    spec = dict(_locusttest()["spec"])
    spec["env"] = [{"name": "K", "valueFrom": {"secretKeyRef": {"name": SECRET, "key": "K"}}}]
    assert problems(spec, schema) == [
        "spec.env[0].valueFrom: not in the schema (the API server would drop it)"
    ]
    assert problems({"args": 3}, schema) == [
        "spec.workers: required",
        "spec.args: expected string, got int",
    ]


def test_locusttest_runs_headless_with_a_run_time_and_every_worker() -> None:
    spec = _locusttest()["spec"]
    args = shlex.split(spec["args"])  # the operator splits spec.args the same way
    assert "--headless" in args
    assert _option(args, "--run-time")
    assert int(_option(args, "--expect-workers")) == spec["workers"] >= 2
    assert int(_option(args, "--expect-workers-max-wait")) > 0  # unreachable master: it ends
    assert float(_option(args, "--stop-timeout")) > 0
    assert not {"--master", "--worker", "--master-host", "-f", "--locustfile"} & set(args)
    assert _option(args, "--flow-config") == f"{OPERATOR_MOUNT}/scenario.toml"
    assert spec["locustfile"] == {"configMap": {"name": CONFIGMAP}}
    assert "--report-dir" not in args  # the default lands in the image's report volume


def test_locusttest_reads_the_keys_from_the_secret() -> None:
    env = {e["name"]: e["value"] for e in _locusttest()["spec"]["env"]}
    assert env["FLOWLOAD_SECRET"] == SECRET
    assert set(env["FLOWLOAD_SECRET_KEYS"].split(",")) == _scenario_keys()
    assert not _scenario_keys() & set(env), "a key variable with a literal value"
    assert float(env["FLOWLOAD_HOLD_REPORTS_S"]) > 0
    assert env["FLOWLOAD_EXIT_ZERO"] == "true"  # a failed master pod would re-run the test


def test_the_pods_may_read_that_secret_and_nothing_else() -> None:
    docs = _named(KUBE / "flowload-test.yaml")
    role = docs[("Role", "flowload-read-keys")]
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [SECRET], "verbs": ["get"]}
    ]
    binding = docs[("RoleBinding", "flowload-read-keys")]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "flowload-read-keys",
    }
    # The operator's pods run as the namespace's default service account.
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "default"}]


def test_kustomization_makes_the_scenario_configmap() -> None:
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["resources"] == ["flowload-test.yaml"]
    assert kustomization["configMapGenerator"] == [{"name": CONFIGMAP, "files": ["scenario.toml"]}]
    assert kustomization["generatorOptions"] == {"disableNameSuffixHash": True}
    assert (KUBE / "scenario.toml").is_file()


# --- without the operator -----------------------------------------------------------------------


def _plain() -> dict[tuple[str, str], dict[str, Any]]:
    return _named(KUBE / "plain" / "flowload.yaml")


def _pod(job: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = job["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    return spec, container


def test_plain_manifest_kinds_and_names() -> None:
    assert set(_plain()) == {
        ("Service", "flowload-master"),
        ("Job", "flowload-master"),
        ("Job", "flowload-worker"),
    }


def test_plain_master_is_a_job_that_ends() -> None:
    job = _plain()[("Job", "flowload-master")]
    pod, container = _pod(job)
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] > 0
    assert pod["restartPolicy"] == "Never"
    args = container["args"]
    assert args[0] == "--master"
    assert "--headless" in args
    assert _option(args, "--run-time")
    assert float(_option(args, "--expect-workers-max-wait")) > 0
    assert "FLOWLOAD_EXIT_ZERO" not in _env(container)  # the Job's status tells the gate verdict
    assert float(_env(container)["FLOWLOAD_HOLD_REPORTS_S"]["value"]) > 0
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["reports"] == REPORTS


def test_plain_workers_find_the_master_and_end_with_it() -> None:
    docs = _plain()
    service = docs[("Service", "flowload-master")]
    master_pod, master = _pod(docs[("Job", "flowload-master")])
    worker_job = docs[("Job", "flowload-worker")]
    worker_pod, worker = _pod(worker_job)
    labels = docs[("Job", "flowload-master")]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert _option(worker["args"], "--master-host") == service["metadata"]["name"]
    assert int(_option(worker["args"], "--master-port")) == service["spec"]["ports"][0]["port"]
    expected = int(_option(master["args"], "--expect-workers"))
    assert worker_job["spec"]["parallelism"] == worker_job["spec"]["completions"] == expected
    assert worker_pod["restartPolicy"] == "OnFailure"
    assert worker["args"][0] == "--worker"
    assert master_pod["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("role", ["master", "worker"])
def test_plain_pods_get_the_scenario_and_every_key_from_the_secret(role: str) -> None:
    pod, container = _pod(_plain()[("Job", f"flowload-{role}")])
    env = _env(container)
    for name in _scenario_keys():
        assert env[name] == {
            "name": name,
            "valueFrom": {"secretKeyRef": {"name": SECRET, "key": name}},
        }
    config = Path(_option(container["args"], "--flow-config"))
    volumes = {v["name"]: v for v in pod["volumes"]}
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == str(config.parent))
    assert volumes[mount["name"]]["configMap"] == {"name": CONFIGMAP}
    assert config.name == "scenario.toml"


# --- Docker Compose and the image ---------------------------------------------------------------


def test_compose_passes_the_keys_through_by_name() -> None:
    compose = yaml.safe_load((DEPLOY / "docker" / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"master", "worker"}
    for service in services.values():
        assert set(service["environment"]) == _scenario_keys()  # names only: values from the shell
        assert _option(service["command"], "--flow-config") == "/scenario/scenario.toml"
    assert services["master"]["command"][0] == "--master"
    assert _option(services["worker"]["command"], "--master-host") == "master"
    assert services["master"]["build"] == {"context": "../.."}
    assert any(v.endswith(f":{REPORTS}") for v in services["master"]["volumes"])


def _dockerfile() -> str:
    return (REPO / "Dockerfile").read_text(encoding="utf-8")


def _allowed_in_context() -> set[str]:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "the build context is an allow-list"
    return {p[1:].rstrip("/") for p in patterns if p.startswith("!")}


def test_the_image_is_built_from_allowed_files_only() -> None:
    text = _dockerfile()
    allowed = _allowed_in_context()
    copied = re.findall(r"^COPY (?!--from)(\S+) ", text, flags=re.MULTILINE)
    mounted = re.findall(r"/tmp/context/(\S+)", text)
    assert copied
    assert mounted
    assert set(copied + mounted) <= allowed
    for name in allowed:
        assert (REPO / name).exists(), name


def test_the_image_matches_the_manifests() -> None:
    text = _dockerfile()
    assert re.search(r"^FROM locustio/locust:\$\{LOCUST_VERSION\}$", text, flags=re.MULTILINE)
    assert f'VOLUME ["{REPORTS}"]' in text
    assert f"FLOWLOAD_REPORTS={REPORTS}" in text
    assert "WORKDIR /flowload\n" in text  # reports/<time>-<id>/ of a run land in the volume
    assert re.findall(r"^USER (\S+)$", text, flags=re.MULTILINE)[-1] == "1000:1000"
    entrypoint = re.search(r'^ENTRYPOINT \["python", "(\S+)"\]$', text, flags=re.MULTILINE)
    assert entrypoint is not None
    assert f"COPY deploy/docker/entrypoint.py {entrypoint.group(1)}" in text
    assert "LOCUST_LOCUSTFILE=/opt/flowload/locustfiles/flow_stream.py" in text
    assert "COPY locustfiles /opt/flowload/locustfiles" in text


# --- no key anywhere ----------------------------------------------------------------------------

_SECRET_WORDS = re.compile(r"(?i)(key|token|secret|password|credential)")
# An assignment of something that looks like a credential: 16+ characters of key alphabet.
_LITERAL = re.compile(
    r"(?i)(api[_-]?key|x-api-key|token|password|secret)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9+/_\-]{16,}"
)


def _deploy_files() -> list[Path]:
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return [*files, REPO / "Dockerfile", REPO / ".dockerignore"]


def _env_entries(node: Any) -> list[dict[str, Any]]:
    """Every container env entry ({name, value|valueFrom}) anywhere in a parsed manifest."""
    if isinstance(node, dict):
        found = [e for e in node.get("env", []) if isinstance(e, dict) and "name" in e]
        return found + [e for v in node.values() for e in _env_entries(v)]
    if isinstance(node, list):
        return [e for v in node for e in _env_entries(v)]
    return []


def test_no_key_literal_in_any_deploy_file() -> None:
    for path in _deploy_files():
        text = path.read_text(encoding="utf-8")
        assert not _LITERAL.search(text), f"{path}: {_LITERAL.search(text)}"
    for path in [*KUBE.rglob("*.yaml"), DEPLOY / "docker" / "compose.yaml"]:
        for entry in _env_entries(_docs(path)):
            if _SECRET_WORDS.search(entry["name"]) and "value" in entry:
                # Only names of things may be literal: the Secret's name, its key names.
                assert entry["name"] in {"FLOWLOAD_SECRET", "FLOWLOAD_SECRET_KEYS"}, entry
    for name in re.findall(r"^(?:ARG|ENV) (\w+)", _dockerfile(), flags=re.MULTILINE):
        assert not _SECRET_WORDS.search(name), name
