"""Reading policy documents: YAML or JSON text into the validated model of :mod:`.document`.

Numbers are read as exact ``Decimal`` (YAML and JSON floats never become ``float``); limit values, minimums and
tier bounds may be unit strings converted into the credit's ``stof_units``; prices and caps are money (at most
18 integer digits and 18 decimal places). Each limit is resolved to its :class:`~.document.Credit` object.
Unknown keys, unknown credits, bad modes, duplicate YAML keys and anything but exactly one default plan are
rejected with a :class:`~.document.PolicyError` whose ``field`` is the dotted path
(``plans.pro.entitlements.gpu_compute.limit.credit``) and whose message carries the YAML line number when there
is one. Limitr keys that only describe things (a credit's ``label`` and ``unit``, a plan's or entitlement's
``hidden``, a limit's ``increment``, a price's ``id`` and ``suffix``) are accepted; Limitr features meterbase
does not implement (governors, calendar schedules, top-ups, scopes...) are refused by name, never ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Literal

import yaml

from ..errors import ValidationError
from ..periods import parse_interval
from ..pricing.decimals import to_decimal as money
from ..units import check_unit, convert, plain_units
from .document import (
    LIMIT_MODES, PRICING_MODELS, Credit, CreditTier, Entitlement, Limit, Policy, PolicyError, PolicyPlan, SpendCap,
)

Path = tuple[str, ...]


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads floats as exact Decimals."""


def _construct_decimal(loader: _Loader, node: yaml.ScalarNode) -> Decimal:
    text = loader.construct_scalar(node)
    try:
        value = Decimal(str(text).replace("_", ""))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise _error((), f"not a finite number: {text!r}", node.start_mark.line + 1)
    return value


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def _index_lines(node: yaml.Node, path: Path, lines: dict[Path, int], seen_nodes: set[int] | None = None) -> None:
    """Record the line of every mapping key / sequence item; reject duplicate mapping keys.

    A node reached again through a YAML alias is not walked twice (no blow-up on recursive or nested aliases).
    """
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            sub = path + (key,)
            if key in seen:
                raise _error(sub, "duplicate key", key_node.start_mark.line + 1)
            seen.add(key)
            lines[sub] = key_node.start_mark.line + 1
            _index_lines(value_node, sub, lines, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (str(i),)] = item.start_mark.line + 1
            _index_lines(item, path + (str(i),), lines, seen_nodes)


def _error(path: Path, message: str, line: int | None) -> PolicyError:
    """``path: message (line N)``; paths inside the policy read ``plans.pro...``, as users think of them."""
    shown = path[1:] if len(path) > 1 and path[0] == "policy" else path
    dotted = ".".join(shown) or None
    suffix = f" (line {line})" if line is not None else ""
    return PolicyError(f"{dotted}: {message}{suffix}" if dotted else f"{message}{suffix}", dotted, line)


def _parse_yaml(text: str) -> tuple[Any, dict[Path, int]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path, int] = {}
        if node is None:
            return None, lines
        _index_lines(node, (), lines)
        return loader.construct_document(node), lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise _error((), f"invalid YAML: {getattr(exc, 'problem', None) or exc}", line) from None
    finally:
        loader.dispose()


def _parse_json(text: str) -> Any:
    def reject(constant: str) -> None:
        raise _error((), f"not a finite number: {constant}", None)

    try:
        return json.loads(text, parse_float=Decimal, parse_constant=reject)
    except json.JSONDecodeError as exc:
        raise _error((), f"invalid JSON: {exc.msg}", exc.lineno) from None


_UNSUPPORTED = "is a Limitr feature meterbase does not implement (see the README's Limits section)"


class _Reader:
    """Validation helpers bound to the document's line index; every error names its path."""

    def __init__(self, lines: dict[Path, int]):
        self.lines = lines

    def fail(self, path: Path, message: str) -> PolicyError:
        line = next((self.lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in self.lines), None)
        return _error(path, message, line)

    def mapping(self, value: Any, path: Path, allowed: tuple[str, ...] | None = None,
                unsupported: tuple[str, ...] = ()) -> Mapping[str, Any]:
        if value is None and allowed is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(path, f"keys must be strings, got {key!r}")
            if key in unsupported:
                raise self.fail(path + (key,), _UNSUPPORTED)
            if allowed is not None and key not in allowed:
                raise self.fail(path + (key,), f"unknown key (expected one of: {', '.join(allowed)})")
        return value

    def text(self, m: Mapping[str, Any], key: str, path: Path, default: str | None = None) -> str | None:
        value = m.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self.fail(path + (key,), f"expected a string, got {_kind(value)}")
        return value

    def flag(self, m: Mapping[str, Any], key: str, path: Path, default: bool) -> bool:
        value = m.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(path + (key,), f"expected true or false, got {_kind(value)}")
        return value

    def choice(self, m: Mapping[str, Any], key: str, path: Path, options: tuple[str, ...], default: str) -> str:
        value = m.get(key, default)
        if value not in options:
            raise self.fail(path + (key,), f"must be one of {', '.join(options)}, got {value!r}")
        return value

    def amount(self, value: Any, path: Path, units: str | None, *, negative: bool = False) -> Decimal:
        """An amount (number or unit string) in ``units``; non-negative unless ``negative``."""
        try:
            result = convert(value, units, path[-1] if path else None)
        except ValidationError as exc:
            raise self.fail(path, exc.message) from None
        if result < 0 and not negative:
            raise self.fail(path, f"must not be negative, got {value!r}")
        return result

    def money(self, value: Any, path: Path) -> Decimal:
        """A non-negative money amount (a price, a cost, a cap's ceiling)."""
        if isinstance(value, float):  # JSON/YAML floats arrive as Decimal already; a float here is a bug
            value = repr(value)
        try:
            return money(value, path[-1])
        except ValidationError as exc:
            raise self.fail(path, exc.message) from None

    def price(self, value: Any, path: Path) -> Decimal:
        m = self.mapping(value, path, ("amount", "id", "suffix"))
        if "amount" not in m:
            raise self.fail(path, "missing 'amount'")
        return self.money(m["amount"], path + ("amount",))

    def interval(self, m: Mapping[str, Any], path: Path, resets: bool):
        """``reset_inc``: a duration (``30days``) or, a meterbase extension, a calendar name (``monthly``)."""
        if m.get("reset_inc") is None:
            return None
        if not resets:
            raise self.fail(path + ("reset_inc",), "reset_inc needs resets: true")
        return self.parsed(parse_interval, m["reset_inc"], path + ("reset_inc",))

    def parsed(self, parse: Any, value: Any, path: Path) -> Any:
        """``parse(value)``, its ValidationError re-raised at ``path``."""
        try:
            return parse(value, None)
        except ValidationError as exc:
            raise self.fail(path, exc.message) from None


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


_POLICY_KEYS = ("credits", "plans")
_POLICY_UNSUPPORTED = ("exchange", "notifications", "customers", "alt_customer_ids", "capabilities", "estimates")
_CREDIT_KEYS = ("description", "overhead_cost", "pricing_model", "tiers", "price", "stof_units", "resets", "label",
                "unit")
_PLAN_KEYS = ("label", "period", "default", "entitlements", "caps", "hidden")
_PLAN_UNSUPPORTED = ("topups", "trial_period", "subscription")
_ENTITLEMENT_KEYS = ("description", "limit", "hidden")
_ENTITLEMENT_UNSUPPORTED = ("scope", "estimate_basis", "estimate_segment")
_LIMIT_KEYS = ("credit", "mode", "value", "resets", "reset_inc", "minimum", "increment", "grants_apply")
_LIMIT_UNSUPPORTED = ("hard_trailing", "reset_sch", "override_expires_on", "governor_enabled", "governor_capacity",
                      "governor_refill_rate", "ewma_alpha")
_CAP_KEYS = ("value", "credit", "observe_only", "overage_only", "overhead_cost", "follow_decrements", "resets",
             "reset_inc", "scope")
_CAP_UNSUPPORTED = ("exchangeable", "ignore_grants", "hard_trailing", "shared", "shared_with", "reset_sch",
                    "expires_on")
_MONEY = ("rune", "usd")


def _credit(r: _Reader, name: str, raw: Any, path: Path) -> Credit:
    m = r.mapping(raw, path, _CREDIT_KEYS)
    units = plain_units(r.text(m, "stof_units", path))
    if units is not None:
        r.parsed(check_unit, units, path + ("stof_units",))
    model = r.choice(m, "pricing_model", path, PRICING_MODELS, "tiered" if "tiers" in m else "flat")
    tiers: tuple[CreditTier, ...] = ()
    if model != "flat":
        if "price" in m:
            raise r.fail(path + ("price",), f"a {model} credit is priced by its tiers, not 'price'")
        tiers = _tiers(r, m.get("tiers"), path + ("tiers",), units, model)
    elif "tiers" in m:
        raise r.fail(path + ("tiers",), "tiers need pricing_model: tiered, volume or stairstep")
    overhead = m.get("overhead_cost")
    return Credit(
        name=name,
        description=r.text(m, "description", path, "") or "",
        overhead_cost=Decimal(0) if overhead is None else r.money(overhead, path + ("overhead_cost",)),
        pricing_model=model,  # type: ignore[arg-type]
        tiers=tiers,
        price=r.price(m["price"], path + ("price",)) if m.get("price") is not None else None,
        stof_units=units,
        resets=r.flag(m, "resets", path, False),
        label=r.text(m, "label", path, "") or "",
        unit=r.text(m, "unit", path, "") or "",
    )


def _tiers(r: _Reader, raw: Any, path: Path, units: str | None, model: str) -> tuple[CreditTier, ...]:
    if not isinstance(raw, list) or not raw:
        raise r.fail(path, f"a {model} credit needs a non-empty list of tiers")
    tiers: list[CreditTier] = []
    for i, item in enumerate(raw):
        tpath = path + (str(i),)
        m = r.mapping(item, tpath, ("up_to", "price"))
        if "price" not in m:
            raise r.fail(tpath, "missing 'price'")
        up_to = None if m.get("up_to") is None else r.amount(m["up_to"], tpath + ("up_to",), units)
        if up_to is None and i != len(raw) - 1:
            raise r.fail(tpath, "only the last tier may omit 'up_to'")
        if up_to is not None and tiers and tiers[-1].up_to is not None and up_to <= tiers[-1].up_to:
            raise r.fail(tpath + ("up_to",), f"tiers must increase: {up_to} is not above {tiers[-1].up_to}")
        tiers.append(CreditTier(up_to, r.price(m["price"], tpath + ("price",))))
    return tuple(tiers)


def _limit(r: _Reader, raw: Any, path: Path, credits: Mapping[str, Credit]) -> Limit:
    m = r.mapping(raw, path, _LIMIT_KEYS, _LIMIT_UNSUPPORTED)
    if "credit" not in m:
        raise r.fail(path, "missing 'credit'")
    credit_name = r.text(m, "credit", path)
    if credit_name not in credits:
        raise r.fail(path + ("credit",), f"unknown credit {credit_name!r}")
    credit = credits[credit_name]
    units = credit.stof_units
    mode = r.choice(m, "mode", path, LIMIT_MODES, "hard")
    if "value" not in m and mode != "observe":
        raise r.fail(path, "missing 'value'")
    resets = r.flag(m, "resets", path, False)  # Limitr: the credit's `resets` is informational
    minimum = None if m.get("minimum") is None else r.amount(m["minimum"], path + ("minimum",), units, negative=True)
    return Limit(
        credit=credit,
        mode=mode,  # type: ignore[arg-type]
        value=r.amount(m.get("value", 0), path + ("value",), units),
        resets=resets,
        reset_inc=r.interval(m, path, resets),
        minimum=minimum,
        increment=r.amount(m.get("increment", 1), path + ("increment",), units),
        grants_apply=r.flag(m, "grants_apply", path, True),
    )


def _cap(r: _Reader, name: str, raw: Any, path: Path, entitlements: Mapping[str, Any]) -> SpendCap:
    m = r.mapping(raw, path, _CAP_KEYS, _CAP_UNSUPPORTED)
    if "value" not in m:
        raise r.fail(path, "missing 'value' (the money ceiling)")
    if m.get("credit", "rune") not in _MONEY:
        raise r.fail(path + ("credit",), "caps are money: credit must be rune or usd (prices are in runes, 1 rune = 1 usd)")
    scope = m.get("scope")
    if scope is not None:
        if not isinstance(scope, list) or not all(isinstance(s, str) for s in scope):
            raise r.fail(path + ("scope",), "expected a list of entitlement names")
        unknown = [s for s in scope if s not in entitlements]
        if unknown:
            raise r.fail(path + ("scope",), f"unknown entitlement {unknown[0]!r} in this plan")
    resets = r.flag(m, "resets", path, False)
    return SpendCap(
        name=name,
        value=r.money(m["value"], path + ("value",)),
        observe_only=r.flag(m, "observe_only", path, False),
        overage_only=r.flag(m, "overage_only", path, False),
        overhead_cost=r.flag(m, "overhead_cost", path, False),
        follow_decrements=r.flag(m, "follow_decrements", path, False),
        resets=resets,
        reset_inc=r.interval(m, path, resets),
        scope=None if scope is None else tuple(scope),
    )


def _plan(r: _Reader, name: str, raw: Any, path: Path, credits: Mapping[str, Credit]) -> PolicyPlan:
    m = r.mapping(raw, path, _PLAN_KEYS, _PLAN_UNSUPPORTED)
    period = r.text(m, "period", path, "monthly")
    r.parsed(parse_interval, period, path + ("period",))
    entitlements: dict[str, Entitlement] = {}
    epath = path + ("entitlements",)
    for ent_name, ent_raw in r.mapping(m.get("entitlements"), epath).items():
        entpath = epath + (ent_name,)
        em = r.mapping(ent_raw, entpath, _ENTITLEMENT_KEYS, _ENTITLEMENT_UNSUPPORTED) if ent_raw is not None else {}
        limit = em.get("limit")
        r.flag(em, "hidden", entpath, False)
        entitlements[ent_name] = Entitlement(
            name=ent_name,
            description=r.text(em, "description", entpath, "") or "",
            limit=None if limit is None else _limit(r, limit, entpath + ("limit",), credits),
        )
    cpath = path + ("caps",)
    caps = {cap: _cap(r, cap, raw_cap, cpath + (cap,), entitlements) for cap, raw_cap in r.mapping(m.get("caps"), cpath).items()}
    r.flag(m, "hidden", path, False)
    return PolicyPlan(
        name=name,
        label=r.text(m, "label", path, name) or name,
        period=period,  # type: ignore[arg-type]  # validated above
        default=r.flag(m, "default", path, False),
        entitlements=MappingProxyType(entitlements),
        caps=MappingProxyType(caps),
    )


def _policy(r: _Reader, document: Any) -> Policy:
    top = r.mapping(document, (), ("policy",))
    if "policy" not in top:
        raise r.fail((), "missing top-level 'policy' key")
    m = r.mapping(top["policy"], ("policy",), _POLICY_KEYS, _POLICY_UNSUPPORTED)
    credits = {
        name: _credit(r, name, raw, ("policy", "credits", name))
        for name, raw in r.mapping(m.get("credits"), ("policy", "credits")).items()
    }
    plans_raw = r.mapping(m.get("plans"), ("policy", "plans"))
    if not plans_raw:
        raise r.fail(("policy", "plans"), "a policy needs at least one plan")
    plans = {name: _plan(r, name, raw, ("policy", "plans", name), credits) for name, raw in plans_raw.items()}
    defaults = [name for name, plan in plans.items() if plan.default]
    if len(defaults) != 1:
        found = ", ".join(defaults) if defaults else "none"
        raise r.fail(("policy", "plans"), f"exactly one plan must have default: true (found: {found})")
    return Policy(credits=MappingProxyType(credits), plans=MappingProxyType(plans))


def read_policy(text: str, format: Literal["yaml", "json"] = "yaml") -> Policy:
    """Parse and validate a policy document; raises :class:`PolicyError` naming the offending path."""
    if format == "yaml":
        document, lines = _parse_yaml(text)
    elif format == "json":
        document, lines = _parse_json(text), {}
    else:
        raise ValidationError(f"format must be 'yaml' or 'json', got {format!r}", "format")
    return _policy(_Reader(lines), document)
