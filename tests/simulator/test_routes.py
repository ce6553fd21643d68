"""Request validation order and flags, without sockets."""

from __future__ import annotations

import pytest

from harness.simulator.profiles import profile_from_dict
from harness.simulator.routes import Admit, Reject, route

FLOW = "f0000000-0000-4000-8000-000000000000"
KEYED = profile_from_dict(
    {"envs": {"Production": {"api_keys": ["p"]}, "Test": {"api_keys": ["t"]},
              "Development": {"api_keys": ["d"]}},
     "flows": [{"id": FLOW, "name": "f"}], "workspaces": ["w"]}
)  # fmt: skip
OPEN = profile_from_dict({"flows": [{"id": FLOW, "name": "f"}]})


def url(env: str = "2", flow: str = FLOW, ws: str = "w", extra: str = "") -> str:
    return f"/api/v1/tenants/t/workspaces/{ws}/flows/{flow}/stream?env={env}{extra}"


def status(method: str, target: str, headers: dict[str, str], open_auth: bool = False) -> int:
    got = route(method, target, headers, OPEN if open_auth else KEYED)
    return got.status if isinstance(got, Reject) else 200


@pytest.mark.parametrize(
    ("method", "target", "headers", "expected"),
    [
        ("POST", url(), {"x-api-key": "p"}, 200),
        ("GET", url(extra="&api_key=p"), {}, 200),
        ("PUT", url(env="9"), {}, 405),  # method before env and auth
        ("POST", "/api/v1/tenants/t/workspaces/w/flows/x/run?env=2", {}, 404),  # path first
        ("POST", url(env="9", extra="&api_key=p"), {"x-api-key": "p"}, 400),  # XOR before env
        ("POST", url(env="9"), {}, 400),  # env before the missing key
        ("POST", url(flow="nope"), {"x-api-key": "bad"}, 401),  # auth before flow lookup
        ("POST", url(flow="nope"), {"x-api-key": "p"}, 404),
        ("POST", url(ws="other"), {"x-api-key": "p"}, 404),
        ("POST", url(env="1"), {"x-api-key": "p"}, 401),  # a Production key is not a Test key
        ("POST", url(), {"x-api-key": "p", "x-flowload-items": "lots"}, 400),
        ("POST", url(), {"x-api-key": "p", "x-flowload-gap-ms": "-1"}, 400),
    ],
)
def test_status_rules_in_order(
    method: str, target: str, headers: dict[str, str], expected: int
) -> None:
    assert status(method, target, headers) == expected


def test_open_auth_accepts_any_non_empty_key() -> None:
    assert status("POST", url(), {"x-api-key": "anything"}, open_auth=True) == 200
    assert status("POST", url(), {"x-api-key": ""}, open_auth=True) == 401
    assert status("POST", url(ws="any"), {"x-api-key": "x"}, open_auth=True) == 200


def test_admit_carries_flags_from_header_or_query() -> None:
    got = route(
        "POST",
        url(extra="&flowload_fault=reset:after=2&flowload_items=4&flowload_ttfi_ms=12.5"),
        {"x-api-key": "p", "x-flowload-gap-ms": "3"},
        KEYED,
    )
    assert isinstance(got, Admit)
    assert got.env == "Production"
    assert got.flow.name == "f"
    assert got.workspace == "w"
    assert got.fault is not None
    assert got.fault.spec == "reset:after=2"
    assert (got.overrides.items, got.overrides.ttfi_ms, got.overrides.gap_ms) == (4, 12.5, 3.0)


def test_rejections_never_echo_the_key() -> None:
    got = route("POST", url(env="1"), {"x-api-key": "p-secret"}, KEYED)
    assert isinstance(got, Reject)
    assert "p-secret" not in got.detail
