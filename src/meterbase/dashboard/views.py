"""Pure helpers for the dashboard: time ranges, number formatting, chart series, rejections."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from ..errors import ValidationError
from ..events.values import decimal_text, to_decimal
from ..meters.aggregate import Partial
from ..meters.aggregations import REGISTRY
from ..meters.model import Meter
from ..meters.windows import MAX_WINDOWS, WINDOW_SIZES
from ..storage.usage import UsageResult
from ..timeutil import UTC, from_us, iso_us, parse_instant, to_us

MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US

RANGES = {"1h": HOUR_US, "24h": DAY_US, "7d": 7 * DAY_US, "30d": 30 * DAY_US, "90d": 90 * DAY_US}
RANGE_LABELS = {"1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days"}
WINDOW_US = {"minute": MINUTE_US, "hour": HOUR_US, "day": DAY_US, "month": 28 * DAY_US}
DEFAULT_RANGE = {"minute": "1h", "hour": "7d", "day": "30d", "month": "90d"}


def ceil_minute(us: int) -> int:
    return -((-us) // MINUTE_US) * MINUTE_US


def day_floor(us: int) -> int:
    return us - us % DAY_US


def month_start(us: int) -> int:
    return to_us(from_us(us).replace(day=1, hour=0, minute=0, second=0, microsecond=0))


def parse_when(value: str | None, field: str) -> int | None:
    """An ISO instant or a ``datetime-local`` value (naive = UTC) -> µs; empty -> None."""
    if not value:
        return None
    try:
        return to_us(parse_instant(value))
    except (ValueError, OverflowError):
        raise ValidationError(f"{field} must be a date and time like 2025-01-21T10:30, got {value!r}", field) from None


def local_input(us: int | None) -> str:
    """µs -> value for an ``<input type=datetime-local>`` (UTC)."""
    return "" if us is None else from_us(us).strftime("%Y-%m-%dT%H:%M")


def resolve_range(now: int, window: str, range_key: str | None, start: str | None = None,
                  end: str | None = None) -> tuple[int, int, str]:
    """``(from, to, range_key)``: explicit ``from``/``to`` win; else ``to`` = now rounded up to the
    minute and ``from`` = ``to`` minus the named range. Rejects ranges that are too fine to draw."""
    if window not in WINDOW_SIZES:
        raise ValidationError(f"window must be one of {', '.join(WINDOW_SIZES)}", "window")
    if range_key not in RANGES:
        range_key = DEFAULT_RANGE[window]
    to = parse_when(end, "to") or ceil_minute(now)
    frm = parse_when(start, "from")
    if frm is None:
        frm = to - RANGES[range_key]
    else:
        range_key = "custom"
    if to <= frm:
        raise ValidationError("'to' must be after 'from'", "to")
    if (to - frm) // WINDOW_US[window] > MAX_WINDOWS:
        raise ValidationError(
            f"{window} windows over this range would draw more than {MAX_WINDOWS:,} points: "
            "pick a larger window or a shorter range", "window")
    return frm, to, range_key


def fmt_num(value) -> str:
    """Exact decimal text with thousands separators (never rounds); None -> an en dash."""
    if value is None or value == "":
        return "–"
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not d.is_finite():
        return str(value)
    # text keeps its own digits (money "12.50" stays "12.50"); Decimals print without exponent noise
    text = str(value).strip().lstrip("+") if isinstance(value, str) and "e" not in value.lower() else decimal_text(d)
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    whole = f"{int(whole):,}" if whole.isdigit() else whole
    return sign + whole + ("." + frac if frac else "")


def fmt_time(value, with_seconds: bool = False) -> str:
    """µs int, ISO string or datetime -> ``2025-01-21 10:30 UTC``."""
    if value is None or value == "":
        return "–"
    if isinstance(value, int):
        dt = from_us(value)
    elif isinstance(value, datetime):
        dt = value.astimezone(UTC)
    else:
        try:
            dt = parse_instant(str(value))
        except ValueError:
            return str(value)
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC" if with_seconds else "%Y-%m-%d %H:%M UTC")


def percent(used, limit) -> int | None:
    """Share of a limit used, 0..100 (bars), or None when unlimited/unknown."""
    try:
        u, lim = Decimal(str(used)), Decimal(str(limit))
    except (InvalidOperation, TypeError, ValueError):
        return None
    if lim <= 0:
        return 100 if u > 0 else 0
    return max(0, min(100, int(u * 100 / lim)))


def _val(p: Partial, agg: str) -> str | None:
    v = p.value(agg)
    return None if v is None else decimal_text(v)


#: How customers combine into one line, per aggregation: merged exactly (partials) where the merged value
#: means something for all customers together; otherwise each customer's value is summed per window
#: (max, last: e.g. storage in use) or the customers are drawn one line each (min).
#: From the registry (``Aggregation.combine`` / ``combined_label``).
COMBINED = {a.name: a.combined_label for a in REGISTRY.values()}
PER_CUSTOMER_LINES = 8


def _merged(parts_by_customer: dict[str, list[Partial]], nwin: int, agg: str) -> tuple[list, Partial]:
    """Values per window of several customers combined per ``COMBINED[agg]`` (and the range total)."""
    if REGISTRY[agg].combine == "merge":
        acc = [Partial() for _ in range(nwin)]
        for parts in parts_by_customer.values():
            for i, p in enumerate(parts):
                acc[i].merge(p)
        total = Partial()
        for p in acc:
            total.merge(p)
        return [_val(p, agg) for p in acc], total
    sums: list = [None] * nwin
    total = Partial()
    for parts in parts_by_customer.values():
        for i, p in enumerate(parts):
            v = p.value(agg)
            if v is not None:
                sums[i] = (sums[i] or Decimal(0)) + v
            total.merge(p)
    return [None if v is None else decimal_text(v) for v in sums], total


def chart_payload(u: UsageResult) -> dict:
    """Chart series from a usage result: one line per metadata group when grouped, else one line. The
    line of several customers says what it is (``COMBINED``): a total, an average of all events, or the
    sum of each customer's max/last — never one customer's value under an "all customers" label; for
    ``min`` each customer gets its own line. A single customer's line is labelled with its id."""
    agg = u.meter.aggregation
    nwin = len(u.bounds)
    groups: dict[tuple, dict[str, list[Partial]]] = {}
    for s in u.series:
        gkey = tuple(sorted((s.group or {}).items(), key=lambda kv: kv[0])) if s.group is not None else ()
        per = groups.setdefault(gkey, {}).setdefault(s.customer_id, [Partial() for _ in range(nwin)])
        for i, p in enumerate(s.windows):
            per[i].merge(p)
    customers = {s.customer_id for s in u.series}
    if not groups:
        groups[()] = {}
    series = []
    for gkey, per in sorted(groups.items(), key=lambda kv: tuple("" if v is None else str(v) for _, v in kv[0])):
        glabel = ", ".join(f"{k}={'(missing)' if v is None else v}" for k, v in gkey)
        if len(customers) <= 1 or COMBINED[agg] is not None:
            values, total = _merged(per, nwin, agg)
            summed = REGISTRY[agg].combine != "merge"  # not mergeable: each customer's value, added up
            if len(customers) == 1:
                label = glabel or next(iter(customers))
            elif glabel:
                label = f"{glabel} ({COMBINED[agg]})" if summed else glabel
            else:
                label = f"All customers ({COMBINED[agg]})"
            series.append({"label": label, "values": values, "events": total.events,
                           "total": _sum_total(per, agg) if summed else _val(total, agg)})
            continue
        ranked = sorted(per.items(), key=lambda kv: (-sum(p.events for p in kv[1]), kv[0]))[:PER_CUSTOMER_LINES]
        for cid, parts in ranked:
            total = Partial()
            for p in parts:
                total.merge(p)
            series.append({"label": f"{glabel} · {cid}" if glabel else cid, "values": [_val(p, agg) for p in parts],
                           "total": _val(total, agg), "events": total.events})
    return {"labels": [iso_us(ws) for ws, _ in u.bounds], "series": series,
            "combined": COMBINED[agg] if len(customers) > 1 else None}


def _sum_total(per: dict[str, list[Partial]], agg: str) -> str | None:
    """Over the whole range: the sum of each customer's value (max, last)."""
    out = None
    for parts in per.values():
        total = Partial()
        for p in parts:
            total.merge(p)
        v = total.value(agg)
        if v is not None:
            out = (out or Decimal(0)) + v
    return None if out is None else decimal_text(out)


def rejection_reason(meter: Meter, metadata: dict) -> str | None:
    """Why ``meter`` (already matching the event's name) would skip this event's value, if it would."""
    if not meter.predicate(metadata):
        return None
    agg = meter.agg
    if agg.needs_key and not agg.numeric:  # e.g. unique_count: any value counts
        return None if meter.key in metadata else f"'{meter.key}' missing"
    if not agg.numeric:
        return None
    if meter.key not in metadata:
        return f"'{meter.key}' missing"
    if to_decimal(metadata[meter.key]) is None:
        return f"'{meter.key}' is not a number"
    return None


def classify_event(meters: list[Meter], event_name: str, metadata: dict) -> tuple[list[Meter], list[tuple[Meter, str]]]:
    """``(meters counting it, [(meter, reason) rejecting its value])`` for one stored event."""
    counted, rejected = [], []
    for m in meters:
        if m.event_name != event_name or not m.predicate(metadata):
            continue
        counted.append(m)
        reason = rejection_reason(m, metadata)
        if reason:
            rejected.append((m, reason))
    return counted, rejected
