"""Loading policy documents: the seed policy, JSON input, and validation errors that name path and line."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from meterbase.errors import NotFound, ValidationError
from meterbase.periods import Interval
from meterbase.policy import CreditTier, Policy, PolicyError, load_policy


def test_seed_file_keeps_every_comment(seed_text: str) -> None:
    for comment in (
        "# $0.28/GPU-hour → ~$0.000078/s; adjust per instance type",
        "# first GPU-hour",
        "# 1–10 GPU-hours",
        "# 10+ GPU-hours",
        "# No video_access on free",
    ):
        assert comment in seed_text
    assert seed_text.startswith("policy:\n  credits:\n")


def test_seed_credits(policy: Policy) -> None:
    assert list(policy.credits) == ["gpu_second", "video_second"]
    gpu = policy.credits["gpu_second"]
    assert gpu.description == "GPU compute time in seconds"
    assert gpu.overhead_cost == Decimal("0.00028")
    assert isinstance(gpu.overhead_cost, Decimal)
    assert gpu.pricing_model == "tiered"
    assert gpu.tiers == (
        CreditTier(Decimal(3600), Decimal("0.0004")),
        CreditTier(Decimal(36000), Decimal("0.00035")),
        CreditTier(None, Decimal("0.0003")),
    )
    assert gpu.price is None
    assert (gpu.stof_units, gpu.resets) == ("s", True)
    video = policy.credits["video_second"]
    assert (video.pricing_model, video.price, video.tiers) == ("flat", Decimal("0.000025"), ())
    assert video.overhead_cost == Decimal("0.000015")


def test_seed_plans(policy: Policy) -> None:
    assert list(policy.plans) == ["free", "pro", "enterprise"]
    assert policy.default_plan.name == "free"
    assert policy.plan(None) is policy.plans["free"]
    assert [p.label for p in policy.plans.values()] == ["Free", "Pro", "Enterprise"]
    assert {p.period for p in policy.plans.values()} == {"monthly"}
    assert [p.default for p in policy.plans.values()] == [True, False, False]
    assert list(policy.plans["free"].entitlements) == ["gpu_access", "gpu_compute"]
    assert list(policy.plans["pro"].entitlements) == ["gpu_access", "gpu_compute", "video_access", "video_transcode"]


@pytest.mark.parametrize(
    ("plan", "entitlement", "credit", "mode", "value"),
    [
        ("free", "gpu_compute", "gpu_second", "hard", 3600),
        ("pro", "gpu_compute", "gpu_second", "soft", 36000),
        ("pro", "video_transcode", "video_second", "hard", 7200),
        ("enterprise", "gpu_compute", "gpu_second", "soft", 720_000),
        ("enterprise", "video_transcode", "video_second", "soft", 180_000),
    ],
)
def test_seed_limits(policy: Policy, plan: str, entitlement: str, credit: str, mode: str, value: int) -> None:
    ent = policy.entitlement(plan, entitlement)
    assert ent is not None and ent.limit is not None
    assert ent.limit.credit is policy.credits[credit]
    assert (ent.limit.mode, ent.limit.value, ent.limit.resets) == (mode, Decimal(value), True)
    assert ent.limit.reset_inc == Interval(delta=timedelta(days=30))
    assert policy.plans[plan].reset_interval(ent) == Interval(delta=timedelta(days=30))


def test_boolean_entitlements(policy: Policy) -> None:
    access = policy.entitlement("free", "gpu_access")
    assert access is not None
    assert (access.description, access.limit) == ("GPU compute access", None)
    assert policy.plans["free"].reset_interval(access) is None
    assert policy.entitlement("free", "video_access") is None
    with pytest.raises(NotFound, match="unknown plan 'gold'"):
        policy.plan("gold")


JSON_POLICY = {
    "policy": {
        "credits": {"api_call": {"price": {"amount": 0.001}}, "storage": {"stof_units": "GB"}},
        "plans": {
            "basic": {
                "default": True,
                "period": "yearly",
                "entitlements": {
                    "calls": {"limit": {"credit": "api_call", "value": 1000, "mode": "soft", "resets": True}},
                    "disk": {"limit": {"credit": "storage", "value": "500GiB"}},
                    "sso": None,
                },
            }
        },
    }
}


def test_json_policy() -> None:
    policy = load_policy(json.dumps(JSON_POLICY), "json")
    plan = policy.default_plan
    assert (plan.name, plan.label, plan.period) == ("basic", "basic", "yearly")
    assert policy.credits["api_call"].price == Decimal("0.001")
    calls, disk, sso = (plan.entitlements[n] for n in ("calls", "disk", "sso"))
    assert calls.limit is not None and disk.limit is not None
    assert (calls.limit.mode, calls.limit.value, calls.limit.reset_inc) == ("soft", Decimal(1000), None)
    assert plan.reset_interval(calls) == Interval(delta=timedelta(days=30))  # Limitr: 30 days, not the plan period
    assert disk.limit.mode == "hard"  # the default mode
    assert disk.limit.value == Decimal("536.870912")  # 500 GiB in GB
    assert (disk.limit.resets, plan.reset_interval(disk)) == (False, None)
    assert sso.limit is None


def test_yaml_and_json_agree(seed_text: str, policy: Policy) -> None:
    import yaml

    as_json = json.dumps(yaml.safe_load(seed_text), default=str)
    assert load_policy(as_json, "json") == policy


def _broken(seed_text: str, old: str, new: str) -> str:
    assert old in seed_text
    return seed_text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "field", "message", "line"),
    [
        (
            "credit: gpu_second, mode: soft, value: '10hr'",
            "credit: gpu_secs, mode: soft, value: '10hr'",
            "plans.pro.entitlements.gpu_compute.limit.credit",
            "unknown credit 'gpu_secs'",
            43,
        ),
        ("mode: hard, value: '1hr'", "mode: strict, value: '1hr'", "plans.free.entitlements.gpu_compute.limit.mode",
         "must be one of hard, soft, observe, got 'strict'", 33),
        ("value: '2hr'", "value: '2GB'", "plans.pro.entitlements.video_transcode.limit.value",
         "'2GB' is bytes, but the credit is counted in 's' (time)", 48),
        ("value: '2hr'", "value: '2 fortnights'", "plans.pro.entitlements.video_transcode.limit.value",
         "unknown unit 'fortnights'", 48),
        ("value: '2hr'", "value: -5", "plans.pro.entitlements.video_transcode.limit.value",
         "must not be negative", 48),
        ("reset_inc: 30days }\n        # No", "reset_inc: 30 }\n        # No", None, None, None),
        ("resets: true, reset_inc: 30days }\n        # No", "resets: false, reset_inc: 30days }\n        # No",
         "plans.free.entitlements.gpu_compute.limit.reset_inc", "reset_inc needs resets: true", 33),
        ("reset_inc: 30days }\n        # No", "reset_inc: fortnightly }\n        # No",
         "plans.free.entitlements.gpu_compute.limit.reset_inc", "not a number or unit string: 'fortnightly'", 33),
        ("      period: monthly\n      default: true", "      period: fortnightly\n      default: true",
         "plans.free.period", "not a number or unit string: 'fortnightly'", 26),
        ("      default: true\n", "      default: yes please\n", "plans.free.default", "expected true or false", 27),
        ("      stof_units: s\n      resets: true\n    video", "      stof_units: sx\n      resets: true\n    video",
         "credits.gpu_second.stof_units", "unknown unit 'sx'", 14),
        ("- up_to: 36000", "- up_to: 3000", "credits.gpu_second.tiers.1.up_to", "tiers must increase", 10),
        ("- up_to: 3600 # first", "- # first", "credits.gpu_second.tiers.0", "only the last tier may omit 'up_to'", 9),
        ("pricing_model: tiered", "pricing_model: flat", "credits.gpu_second.tiers", "tiers need pricing_model: tiered", 7),
        ("pricing_model: tiered", "pricing_model: graduated", "credits.gpu_second.pricing_model",
         "must be one of flat, tiered, volume, stairstep", 6),
        ("price: { amount: 0.000025 }", "price: { amount: -1 }", "credits.video_second.price.amount",
         "must not be negative", 20),
        ("mode: hard, value: '1hr'", "mode: hard, hard_trailing: true, value: '1hr'",
         "plans.free.entitlements.gpu_compute.limit.hard_trailing", "Limitr feature meterbase does not implement", 33),
        ("      label: Pro\n", "      label: Pro\n      topups: {}\n", "plans.pro.topups", "does not implement", 37),
        ("price: { amount: 0.000025 }", "price: { amount: .inf }", None, "not a finite number: '.inf'", 20),
        ("price: { amount: 0.000025 }", "price: { cost: 1 }", "credits.video_second.price.cost", "unknown key", 20),
        ("      label: Pro\n", "      label: Pro\n      lable: Pro\n", "plans.pro.lable", "unknown key", 37),
        ("      label: Pro\n", "      label: Pro\n      label: Pro 2\n", "plans.pro.label", "duplicate key", 37),
        ("    pro:\n      label: Pro\n", "    pro:\n      label: Pro\n      default: true\n",
         "plans", "exactly one plan must have default: true (found: free, pro)", 23),
        ("      default: true\n", "", "plans", "exactly one plan must have default: true (found: none)", 23),
        ("policy:\n", "policies:\n", "policies", "unknown key (expected one of: policy)", 1),
        ("  credits:\n", "  credit:\n", "credit", "unknown key (expected one of: credits, plans)", 2),
    ],
)
def test_validation_errors(
    seed_text: str, old: str, new: str, field: str | None, message: str | None, line: int | None
) -> None:
    text = _broken(seed_text, old, new)
    if message is None:  # a bare number for reset_inc is seconds: valid
        load_policy(text)
        return
    with pytest.raises(PolicyError) as info:
        load_policy(text)
    err = info.value
    assert isinstance(err, ValidationError)
    assert err.field == field
    assert err.line == line
    assert message in err.message
    if field:
        assert err.message.startswith(f"{field}: ")
    assert err.message.endswith(f"(line {line})")
    assert err.to_dict()["line"] == line


def test_unknown_credit_message(seed_text: str) -> None:
    text = _broken(seed_text, "credit: gpu_second, mode: soft, value: '10hr'", "credit: gpu_secs, mode: soft, value: '10hr'")
    with pytest.raises(PolicyError) as info:
        load_policy(text)
    assert str(info.value) == "plans.pro.entitlements.gpu_compute.limit.credit: unknown credit 'gpu_secs' (line 43)"


@pytest.mark.parametrize(
    ("text", "fmt", "message", "line"),
    [
        ("policy:\n  plans: [\n", "yaml", "invalid YAML", 3),
        ("", "yaml", "expected a mapping, got nothing", None),
        ("- 1\n", "yaml", "expected a mapping, got list", None),
        ("policy: {}\n", "yaml", "plans: a policy needs at least one plan", 1),
        ("{}", "yaml", "missing top-level 'policy' key", None),
        ('{"policy": {"plans": }', "json", "invalid JSON", 1),
        ('{"policy": {"credits": {"c": {"overhead_cost": NaN}}}}', "json", "not a finite number", None),
    ],
)
def test_document_level_errors(text: str, fmt: str, message: str, line: int | None) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(text, fmt)  # type: ignore[arg-type]
    assert message in info.value.message
    assert info.value.line == line


def test_unknown_format() -> None:
    with pytest.raises(ValidationError, match="format must be"):
        load_policy("{}", "toml")  # type: ignore[arg-type]
