"""Price models: the seed examples exactly, each model's rules, parsing, round-trips and errors."""

from dataclasses import replace
from decimal import Decimal as D

import pytest

from meterbase.errors import ValidationError
from meterbase.pricing import Flat, Graduated, Package, PerUnit, PriceTier, Volume, price_from_dict, price_line

GPU_SECOND = {  # seed 004: gpu_second, 0-3600 @0.0004, 3600-36000 @0.00035, 36000+ @0.0003
    "model": "graduated",
    "tiers": [
        {"up_to": "3600", "unit_price": "0.0004"},
        {"up_to": "36000", "unit_price": "0.00035"},
        {"up_to": None, "unit_price": "0.0003"},
    ],
}


@pytest.mark.parametrize(
    ("quantity", "free", "unit_price", "billable", "amount"),
    [
        (2500, 1000, "0.02", D("1500"), D("30.00")),  # API calls: 1,500 x $0.02
        (15000, 1000, "0.001", D("14000"), D("14.00")),  # API service: 14,000 x $0.001
        (50000, 10000, "0.00001", D("40000"), D("0.40")),  # AI tokens: 40,000 x $0.00001
        (100, 10, "0.05", D("90"), D("4.50")),  # images: 90 x $0.05
    ],
)
def test_seed_003_per_unit_with_free_threshold(quantity, free, unit_price, billable, amount):
    price = price_from_dict({"model": "per_unit", "unit_price": unit_price, "free_threshold": str(free)})
    line = price_line(quantity, price, "USD")
    assert line.free_units == D(free)
    assert line.billable_units == billable
    assert line.unit_price == D(unit_price)
    assert line.exact_amount == amount
    assert line.amount == amount and str(line.amount) == str(amount)
    assert line.amount_minor == int(amount * 100)


def test_seed_004_gpu_seconds_graduated():
    line = price_line(40000, price_from_dict(GPU_SECOND), "USD")
    assert [(t.from_, t.to, t.units, t.amount) for t in line.tiers] == [
        (D(0), D(3600), D(3600), D("1.44")),
        (D(3600), D(36000), D(32400), D("11.34")),
        (D(36000), None, D(4000), D("1.20")),
    ]
    assert D(3600) * D("0.0004") + D(32400) * D("0.00035") + D(4000) * D("0.0003") == D("13.98")
    assert line.exact_amount == D("13.98")
    assert line.amount == D("13.98") and str(line.amount) == "13.98"
    assert line.unit_price is None


@pytest.mark.parametrize(
    ("quantity", "amount"),
    [(0, D("0")), (1, D("0.0004")), (3600, D("1.44")), (3601, D("1.44035")), (36000, D("12.78")),
     (36001, D("12.7803"))],
)
def test_graduated_boundaries_are_inclusive(quantity, amount):
    assert price_from_dict(GPU_SECOND).breakdown(quantity).exact_amount == amount


def test_volume_prices_all_units_at_the_reached_tier():
    volume = Volume(tiers=price_from_dict(GPU_SECOND).tiers)
    assert volume.breakdown(3600).exact_amount == D("1.44")  # on the boundary: still tier 1
    assert volume.breakdown(3601).exact_amount == D("3601") * D("0.00035")
    line = price_line(40000, volume, "USD")
    assert (line.unit_price, line.amount) == (D("0.0003"), D("12.00"))
    assert [(t.from_, t.to, t.units) for t in line.tiers] == [(D(36000), None, D(40000))]
    assert volume.breakdown(0).exact_amount == 0


def test_tier_flat_fees():
    tiers = [PriceTier(D(10), D(1), flat_fee=D(5)), PriceTier(None, D("0.5"), flat_fee=D(20))]
    graduated, volume = Graduated(tiers=tiers), Volume(tiers=tiers)
    assert graduated.breakdown(0).exact_amount == 0  # no units, no tier entered
    assert graduated.breakdown(4).exact_amount == D(9)  # 4 + 5
    assert graduated.breakdown(12).exact_amount == D(10) + D(5) + D(1) + D(20)
    assert volume.breakdown(4).exact_amount == D(9)
    assert volume.breakdown(12).exact_amount == D(6) + D(20)


def test_package_rounds_up_to_whole_packages():
    price = Package(package_size=D(1000), package_price=D("5"), free_threshold=D(500))
    assert price.breakdown(500).packages == 0
    assert price.breakdown(501).packages == 1
    line = price_line(2501, price, "USD")  # 2,001 billable -> 3 packages
    assert (line.packages, line.amount) == (D(3), D("15.00"))
    assert Package(package_size=D("0.5"), package_price=D(2)).breakdown(D("1.01")).exact_amount == D(6)


def test_flat_fee_ignores_quantity():
    price = Flat(amount=D("49"))
    assert price.breakdown(0).exact_amount == price.breakdown(10**9).exact_amount == D(49)


@pytest.mark.parametrize(
    ("quantity", "exact"),
    [(0, D("5")), (100, D("5")), (999, D("9.99")), (1500, D("15")), (10**6, D("20"))],
)
def test_minimum_and_maximum_clamp_the_exact_amount(quantity, exact):
    price = PerUnit(unit_price=D("0.01"), minimum=D("5"), maximum=D("20"))
    b = price.breakdown(quantity)
    assert b.subtotal == D(quantity) * D("0.01")
    assert b.exact_amount == exact


def test_clamp_applies_before_the_single_rounding():
    # minimum 4.995 is exact; rounding happens once after the clamp
    price = PerUnit(unit_price=D("0.001"), minimum=D("4.995"))
    assert price_line(10, price, "USD").amount == D("5.00")
    assert price_line(10, price, "JPY").amount == D("5")


@pytest.mark.parametrize(
    "price",
    [
        PerUnit(unit_price=D(1), free_threshold=D(10)),
        Graduated(tiers=[PriceTier(D(5), D(2)), PriceTier(None, D(1))], free_threshold=D(10)),
        Volume(tiers=[PriceTier(D(5), D(2)), PriceTier(None, D(1))], free_threshold=D(10)),
        Package(package_size=D(3), package_price=D(1), free_threshold=D(10)),
    ],
    ids=lambda p: p.kind,
)
def test_free_threshold_applies_to_every_usage_model(price):
    assert price.breakdown(7).exact_amount == 0
    assert price.breakdown(10).exact_amount == 0
    b = price.breakdown(16)
    assert (b.free_units, b.billable_units) == (D(10), D(6))
    assert b.exact_amount == replace(price, free_threshold=D(0)).breakdown(6).exact_amount > 0


def test_constructor_coerces_numbers_to_decimal():
    price = PerUnit(unit_price="0.02", free_threshold=1000, maximum=0.1)
    assert price.unit_price == D("0.02") and isinstance(price.free_threshold, D)
    assert price.maximum == D("0.1")  # a float goes through its shortest repr, never binary


@pytest.mark.parametrize(
    "data",
    [
        {"model": "per_unit", "unit_price": "0.001", "free_threshold": "1000"},
        {"model": "per_unit", "unit_price": "0.5", "minimum": "5", "maximum": "100.25"},
        GPU_SECOND,
        {"model": "volume", "tiers": [{"up_to": "10", "unit_price": "1", "flat_fee": "2.5"},
                                      {"up_to": None, "unit_price": "0.5"}]},
        {"model": "package", "package_size": "1000", "package_price": "5", "free_threshold": "10"},
        {"model": "flat", "amount": "49.00"},
    ],
    ids=lambda d: d["model"],
)
def test_to_dict_round_trips(data):
    price = price_from_dict(data)
    assert price.to_dict() == data
    assert price_from_dict(price.to_dict()) == price


def test_to_dict_writes_plain_strings():
    price = PerUnit(unit_price=D("1E-7"), free_threshold=D("1E+3"))
    assert price.to_dict() == {"model": "per_unit", "unit_price": "0.0000001", "free_threshold": "1000"}


def _tiers(*pairs):
    return [{"up_to": u, "unit_price": p} for u, p in pairs]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([1], "price"),
        ({"unit_price": "1"}, "model"),
        ({"model": "tiered"}, "model"),
        ({"model": ["per_unit"]}, "model"),
        ({"model": "per_unit"}, "unit_price"),
        ({"model": "per_unit", "unit_price": "-0.01"}, "unit_price"),
        ({"model": "per_unit", "unit_price": "abc"}, "unit_price"),
        ({"model": "per_unit", "unit_price": True}, "unit_price"),
        ({"model": "per_unit", "unit_price": "NaN"}, "unit_price"),
        ({"model": "per_unit", "unit_price": "Infinity"}, "unit_price"),
        ({"model": "per_unit", "unit_price": "0.0000000000000000001"}, "unit_price"),
        ({"model": "per_unit", "unit_price": "1e18"}, "unit_price"),
        ({"model": "per_unit", "unit_price": "1", "free_treshold": "5"}, "free_treshold"),
        ({"model": "per_unit", "unit_price": "1", "free_threshold": "-5"}, "free_threshold"),
        ({"model": "per_unit", "unit_price": "1", "minimum": "10", "maximum": "5"}, "minimum"),
        ({"model": "per_unit", "unit_price": "1", "maximum": "x"}, "maximum"),
        ({"model": "graduated"}, "tiers"),
        ({"model": "graduated", "tiers": []}, "tiers"),
        ({"model": "graduated", "tiers": "1"}, "tiers"),
        ({"model": "graduated", "tiers": ["x"]}, "tiers.0"),
        ({"model": "graduated", "tiers": _tiers(("10", "1"), ("5", "1"), (None, "1"))}, "tiers.1.up_to"),
        ({"model": "graduated", "tiers": _tiers(("10", "1"), ("10", "1"), (None, "1"))}, "tiers.1.up_to"),
        ({"model": "volume", "tiers": _tiers((None, "1"), ("10", "1"))}, "tiers.0.up_to"),
        ({"model": "volume", "tiers": _tiers(("10", "1"), ("20", "1"))}, "tiers.1.up_to"),
        ({"model": "graduated", "tiers": _tiers(("0", "1"), (None, "1"))}, "tiers.0.up_to"),
        ({"model": "graduated", "tiers": [{"up_to": None}]}, "tiers.0.unit_price"),
        ({"model": "graduated", "tiers": [{"up_to": None, "price": "1"}]}, "tiers.0.price"),
        ({"model": "graduated", "tiers": _tiers(("10", "1"), (None, "-1"))}, "tiers.1.unit_price"),
        ({"model": "graduated", "tiers": [{"up_to": None, "unit_price": "1", "flat_fee": "-1"}]},
         "tiers.0.flat_fee"),
        ({"model": "package", "package_size": "0", "package_price": "1"}, "package_size"),
        ({"model": "package", "package_size": "10"}, "package_price"),
        ({"model": "flat"}, "amount"),
        ({"model": "flat", "amount": "10", "free_threshold": "1"}, "free_threshold"),
    ],
)
def test_invalid_definitions_name_the_field(data, field):
    with pytest.raises(ValidationError) as err:
        price_from_dict(data)
    assert err.value.field == field
    assert err.value.message


def test_direct_construction_validates_too():
    with pytest.raises(ValidationError) as err:
        PerUnit(unit_price=D("-1"))
    assert err.value.field == "unit_price"
    with pytest.raises(ValidationError) as err:
        PriceTier(up_to=D(-1), unit_price=D(1))
    assert err.value.field == "up_to"


@pytest.mark.parametrize("quantity", [-1, "abc", None, "1e30", 1.5e300])
def test_invalid_quantity_names_the_field(quantity):
    with pytest.raises(ValidationError) as err:
        PerUnit(unit_price=D(1)).breakdown(quantity)
    assert err.value.field == "quantity"
