"""Policy documents: parse YAML or JSON text into frozen, validated dataclasses.

A policy is ``policy: {credits: {...}, plans: {...}}`` in the Limitr shape. Numbers are read as exact
``Decimal`` (YAML and JSON floats never become ``float``); limit values and tier bounds may be unit strings
converted into the credit's ``stof_units``; each limit is resolved to its :class:`Credit` object. Unknown keys,
unknown credits, bad modes, duplicate YAML keys and anything but exactly one default plan are rejected with a
:class:`PolicyError` whose ``field`` is the dotted path (``plans.pro.entitlements.gpu_compute.limit.credit``)
and whose message carries the YAML line number when there is one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Literal

import yaml

from ..errors import NotFound, ValidationError
from .periods import Interval, parse_interval
from .units import check_unit, convert

PricingModel = Literal["flat", "tiered"]
LimitMode = Literal["hard", "soft"]
Path = tuple[str, ...]


class PolicyError(ValidationError):
    """An invalid policy document; ``field`` is the dotted path, ``line`` the 1-based YAML line (or None)."""

    def __init__(self, message: str, field: str | None = None, line: int | None = None):
        super().__init__(message, field)
        self.line = line

    def to_dict(self) -> dict:
        return {**super().to_dict(), "line": self.line}


@dataclass(frozen=True)
class Tier:
    """One price band: ``price`` per unit up to ``up_to`` units (``None``: open-ended last tier)."""

    up_to: Decimal | None
    price: Decimal


@dataclass(frozen=True)
class Credit:
    name: str
    description: str = ""
    overhead_cost: Decimal | None = None
    pricing_model: PricingModel = "flat"
    tiers: tuple[Tier, ...] = ()
    price: Decimal | None = None
    stof_units: str | None = None
    resets: bool = False


@dataclass(frozen=True)
class Limit:
    """A quota on one credit; ``value`` is in the credit's units, ``reset_inc`` overrides the plan period."""

    credit: Credit
    mode: LimitMode
    value: Decimal
    resets: bool
    reset_inc: timedelta | None = None


@dataclass(frozen=True)
class Entitlement:
    """A feature of a plan: boolean access when ``limit`` is None, otherwise a metered quota."""

    name: str
    description: str = ""
    limit: Limit | None = None


@dataclass(frozen=True)
class Plan:
    name: str
    label: str
    period: str
    default: bool
    entitlements: Mapping[str, Entitlement] = field(default_factory=dict)

    def reset_interval(self, entitlement: Entitlement) -> Interval | None:
        """How often the entitlement's usage resets on this plan (None: a running total that never resets)."""
        limit = entitlement.limit
        if limit is None or not limit.resets:
            return None
        return Interval(delta=limit.reset_inc) if limit.reset_inc else parse_interval(self.period)


@dataclass(frozen=True)
class Policy:
    credits: Mapping[str, Credit]
    plans: Mapping[str, Plan]

    @property
    def default_plan(self) -> Plan:
        return next(plan for plan in self.plans.values() if plan.default)

    def plan(self, name: str | None = None) -> Plan:
        """The named plan, or the default plan when ``name`` is None."""
        if name is None:
            return self.default_plan
        try:
            return self.plans[name]
        except KeyError:
            raise NotFound(f"unknown plan {name!r}", "plan") from None

    def entitlement(self, plan: str | None, name: str) -> Entitlement | None:
        """The plan's entitlement, or None when the plan does not include it (access denied)."""
        return self.plan(plan).entitlements.get(name)


# ---------------------------------------------------------------------------------------------- parsing


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


class _Reader:
    """Validation helpers bound to the document's line index; every error names its path."""

    def __init__(self, lines: dict[Path, int]):
        self.lines = lines

    def fail(self, path: Path, message: str) -> PolicyError:
        line = next((self.lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in self.lines), None)
        return _error(path, message, line)

    def mapping(self, value: Any, path: Path, allowed: tuple[str, ...] | None = None) -> Mapping[str, Any]:
        if value is None and allowed is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(path, f"keys must be strings, got {key!r}")
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

    def amount(self, value: Any, path: Path, units: str | None) -> Decimal:
        """A non-negative amount (number or unit string) in ``units``."""
        try:
            result = convert(value, units)
        except ValidationError as exc:
            raise self.fail(path, exc.message) from None
        if result < 0:
            raise self.fail(path, f"must not be negative, got {value!r}")
        return result

    def price(self, value: Any, path: Path) -> Decimal:
        m = self.mapping(value, path, ("amount",))
        if "amount" not in m:
            raise self.fail(path, "missing 'amount'")
        return self.amount(m["amount"], path + ("amount",), None)

    def parsed(self, parse: Any, value: Any, path: Path) -> Any:
        """``parse(value)``, its ValidationError re-raised at ``path``."""
        try:
            return parse(value, None)
        except ValidationError as exc:
            raise self.fail(path, exc.message) from None


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


_POLICY_KEYS = ("credits", "plans")
_CREDIT_KEYS = ("description", "overhead_cost", "pricing_model", "tiers", "price", "stof_units", "resets")
_PLAN_KEYS = ("label", "period", "default", "entitlements")
_ENTITLEMENT_KEYS = ("description", "limit")
_LIMIT_KEYS = ("credit", "mode", "value", "resets", "reset_inc")


def _credit(r: _Reader, name: str, raw: Any, path: Path) -> Credit:
    m = r.mapping(raw, path, _CREDIT_KEYS)
    units = r.text(m, "stof_units", path)
    if units is not None:
        r.parsed(check_unit, units, path + ("stof_units",))
    model = r.choice(m, "pricing_model", path, ("flat", "tiered"), "tiered" if "tiers" in m else "flat")
    tiers: tuple[Tier, ...] = ()
    if model == "tiered":
        if "price" in m:
            raise r.fail(path + ("price",), "a tiered credit is priced by its tiers, not 'price'")
        tiers = _tiers(r, m.get("tiers"), path + ("tiers",), units)
    elif "tiers" in m:
        raise r.fail(path + ("tiers",), "tiers need pricing_model: tiered")
    overhead = m.get("overhead_cost")
    return Credit(
        name=name,
        description=r.text(m, "description", path, "") or "",
        overhead_cost=None if overhead is None else r.amount(overhead, path + ("overhead_cost",), None),
        pricing_model=model,  # type: ignore[arg-type]
        tiers=tiers,
        price=r.price(m["price"], path + ("price",)) if "price" in m else None,
        stof_units=units,
        resets=r.flag(m, "resets", path, False),
    )


def _tiers(r: _Reader, raw: Any, path: Path, units: str | None) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not raw:
        raise r.fail(path, "a tiered credit needs a non-empty list of tiers")
    tiers: list[Tier] = []
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
        tiers.append(Tier(up_to, r.price(m["price"], tpath + ("price",))))
    return tuple(tiers)


def _limit(r: _Reader, raw: Any, path: Path, credits: Mapping[str, Credit]) -> Limit:
    m = r.mapping(raw, path, _LIMIT_KEYS)
    for key in ("credit", "value"):
        if key not in m:
            raise r.fail(path, f"missing '{key}'")
    credit_name = r.text(m, "credit", path)
    if credit_name not in credits:
        raise r.fail(path + ("credit",), f"unknown credit {credit_name!r}")
    credit = credits[credit_name]
    resets = r.flag(m, "resets", path, credit.resets)
    reset_inc = None
    if m.get("reset_inc") is not None:
        if not resets:
            raise r.fail(path + ("reset_inc",), "reset_inc needs resets: true")
        interval = r.parsed(parse_interval, m["reset_inc"], path + ("reset_inc",))
        if interval.months:
            raise r.fail(path + ("reset_inc",), "reset_inc is a duration such as 30days (calendar periods go in the plan's period)")
        reset_inc = interval.delta
    return Limit(
        credit=credit,
        mode=r.choice(m, "mode", path, ("hard", "soft"), "hard"),  # type: ignore[arg-type]
        value=r.amount(m["value"], path + ("value",), credit.stof_units),
        resets=resets,
        reset_inc=reset_inc,
    )


def _plan(r: _Reader, name: str, raw: Any, path: Path, credits: Mapping[str, Credit]) -> Plan:
    m = r.mapping(raw, path, _PLAN_KEYS)
    period = r.text(m, "period", path, "monthly")
    r.parsed(parse_interval, period, path + ("period",))
    entitlements: dict[str, Entitlement] = {}
    epath = path + ("entitlements",)
    for ent_name, ent_raw in r.mapping(m.get("entitlements"), epath).items():
        entpath = epath + (ent_name,)
        em = r.mapping(ent_raw, entpath, _ENTITLEMENT_KEYS) if ent_raw is not None else {}
        limit = em.get("limit")
        entitlements[ent_name] = Entitlement(
            name=ent_name,
            description=r.text(em, "description", entpath, "") or "",
            limit=None if limit is None else _limit(r, limit, entpath + ("limit",), credits),
        )
    return Plan(
        name=name,
        label=r.text(m, "label", path, name) or name,
        period=period,  # type: ignore[arg-type]  # validated above
        default=r.flag(m, "default", path, False),
        entitlements=MappingProxyType(entitlements),
    )


def _policy(r: _Reader, document: Any) -> Policy:
    top = r.mapping(document, (), ("policy",))
    if "policy" not in top:
        raise r.fail((), "missing top-level 'policy' key")
    m = r.mapping(top["policy"], ("policy",), _POLICY_KEYS)
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


def load_policy(text: str, format: Literal["yaml", "json"] = "yaml") -> Policy:
    """Parse and validate a policy document; raises :class:`PolicyError` naming the offending path."""
    if format == "yaml":
        document, lines = _parse_yaml(text)
    elif format == "json":
        document, lines = _parse_json(text), {}
    else:
        raise ValidationError(f"format must be 'yaml' or 'json', got {format!r}", "format")
    return _policy(_Reader(lines), document)
