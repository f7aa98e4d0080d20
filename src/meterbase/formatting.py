"""How numbers are shown to people (dashboard, CLI): money in its currency, quantities in their unit.

Pure and display-only: nothing here feeds a computation. Money is shown at its currency's ISO 4217
minor unit (``$1,234.50``, ``¥1,235``, ``1.250 KWD``) — invoice amounts already are, so this only
pads; unit prices keep every digit they have (``$0.0004``). Quantities follow the meter's unit where
the unit names a dimension: bytes as B/KB/MB/GB/TB (decimal, 1 KB = 1,000 B), durations as
``h min s``; other units print the exact number with thousands separators and the unit.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .pricing.money import CURRENCIES

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "CN¥", "KRW": "₩", "BRL": "R$",
           "CAD": "CA$", "AUD": "A$"}
BYTE_UNITS = {"b", "byte", "bytes"}
TIME_UNITS = {  # unit -> seconds per unit
    "ms": Decimal("0.001"), "millisecond": Decimal("0.001"), "milliseconds": Decimal("0.001"),
    "s": Decimal(1), "sec": Decimal(1), "secs": Decimal(1), "second": Decimal(1), "seconds": Decimal(1),
    "min": Decimal(60), "mins": Decimal(60), "minute": Decimal(60), "minutes": Decimal(60),
    "h": Decimal(3600), "hr": Decimal(3600), "hrs": Decimal(3600), "hour": Decimal(3600), "hours": Decimal(3600),
}
DASH = "–"


def decimal_or_none(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def group(text: str) -> str:
    """``-1234567.50`` -> ``-1,234,567.50`` (digits kept as given)."""
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("+-").partition(".")
    whole = f"{int(whole):,}" if whole.isdigit() else whole
    return sign + whole + ("." + frac if frac else "")


def plain(d: Decimal) -> str:
    """A Decimal without exponent notation, trailing fractional zeros removed (``1E+3`` -> ``1000``)."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_money(amount, currency: str | None, rate: bool = False) -> str:
    """``Decimal('1234.5'), 'USD'`` -> ``$1,234.50``. ``rate``: a unit price, every digit kept but never
    fewer than the currency's minor digits (``0.0004`` -> ``$0.0004``)."""
    d = decimal_or_none(amount)
    if d is None:
        return DASH if amount in (None, "") else str(amount)
    code = (currency or "").upper()
    places = CURRENCIES.get(code)
    if places is not None:
        exponent = d.normalize().as_tuple().exponent
        digits = max(places, -exponent) if rate and isinstance(exponent, int) else places
        shown = d.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
        text = format(shown, "f")
    else:
        text = plain(d)
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
    symbol = SYMBOLS.get(code)
    return f"{sign}{symbol}{group(body)}" if symbol else f"{sign}{group(body)} {code}".rstrip()


def _scaled(d: Decimal, places: int = 2) -> str:
    return plain(d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def fmt_bytes(d: Decimal) -> str:
    sign, d = ("-", -d) if d < 0 else ("", d)
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if d >= size:
            return f"{sign}{group(_scaled(d / size))} {unit}"
    return f"{sign}{group(plain(d))} B"


def fmt_duration(seconds: Decimal) -> str:
    """``40000`` -> ``11 h 06 min 40 s``; ``90`` -> ``1 min 30 s``; ``0.25`` -> ``250 ms``."""
    sign, s = ("-", -seconds) if seconds < 0 else ("", seconds)
    if 0 < s < 1:
        return f"{sign}{_scaled(s * 1000)} ms"
    whole = int(s)
    frac = s - whole
    h, rem = divmod(whole, 3600)
    m, sec = divmod(rem, 60)
    sec_text = plain(Decimal(sec) + frac) if frac else str(sec)
    if h:
        return f"{sign}{h:,} h {m:02d} min" + (f" {sec_text} s" if sec or frac else "")
    if m:
        return f"{sign}{m} min" + (f" {sec_text} s" if sec or frac else "")
    return f"{sign}{sec_text} s"


def unit_kind(unit: str | None) -> str | None:
    """``bytes`` | ``time`` | None for a meter's measurement unit."""
    u = (unit or "").strip().lower()
    if u in BYTE_UNITS:
        return "bytes"
    if u in TIME_UNITS:
        return "time"
    return None


def fmt_quantity(value, unit: str | None = None) -> str:
    """A meter quantity for people, in the meter's unit (module docstring)."""
    d = decimal_or_none(value)
    if d is None:
        return DASH if value in (None, "") else str(value)
    kind = unit_kind(unit)
    if kind == "bytes":
        return fmt_bytes(d)
    if kind == "time":
        return fmt_duration(d * TIME_UNITS[unit.strip().lower()])
    text = group(plain(d))
    return f"{text} {unit}" if unit else text


def fmt_quantity_exact(value, unit: str | None = None) -> str:
    """The exact quantity with its unit (tooltips, CLI columns next to the friendly form)."""
    d = decimal_or_none(value)
    if d is None:
        return DASH if value in (None, "") else str(value)
    return f"{group(plain(d))} {unit}".rstrip() if unit else group(plain(d))


def describe_price(price: dict, currency: str, unit: str | None = None) -> dict:
    """A product line's price (``PriceModel.to_dict()``) for people: ``{"summary", "tiers", "limits"}``;
    ``tiers`` is ``[(range, price)]`` with bounds in the meter's unit."""
    model = price.get("model")
    rate = lambda v: fmt_money(v, currency, rate=True)  # noqa: E731
    tiers: list[tuple[str, str]] = []
    if model == "per_unit":
        summary = f"{rate(price.get('unit_price'))} per unit"
    elif model == "package":
        summary = f"{rate(price.get('package_price'))} per {fmt_quantity(price.get('package_size'), unit)}"
    elif model == "flat":
        summary = f"{fmt_money(price.get('amount'), currency)} flat"
    else:
        summary = {"graduated": "graduated tiers (each tier prices its own units)",
                   "volume": "volume tiers (the tier reached prices every unit)"}.get(model, str(model))
        lower = None
        for t in price.get("tiers") or []:
            upper = t.get("up_to")
            if upper is None:
                span = f"above {fmt_quantity(lower, unit)}" if lower is not None else "every unit"
            else:
                span = f"{fmt_quantity(lower or 0, unit)} – {fmt_quantity(upper, unit)}"
            cost = f"{rate(t.get('unit_price'))} per unit"
            if t.get("flat_fee") not in (None, "0"):
                cost += f" + {fmt_money(t['flat_fee'], currency)}"
            tiers.append((span, cost))
            lower = upper
    limits = []
    if price.get("free_threshold") not in (None, "0"):
        limits.append(f"first {fmt_quantity(price['free_threshold'], unit)} free")
    if price.get("minimum") is not None:
        limits.append(f"minimum {fmt_money(price['minimum'], currency)}")
    if price.get("maximum") is not None:
        limits.append(f"maximum {fmt_money(price['maximum'], currency)}")
    return {"summary": summary, "tiers": tiers, "limits": limits}
