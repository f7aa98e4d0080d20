"""``time_weighted``'s pure math and its definition: exact integrals in microseconds, per-unit division,
gauge and delta, the level carried in, and the meter definition's parameters."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from meterbase.errors import ValidationError
from meterbase.meters.aggregate import Partial
from meterbase.meters.aggregations.time_weighted import PER_US, integrate, opening_level, per_unit
from meterbase.meters.model import parse_meter_spec

HOUR = PER_US["hour"]


def test_ten_gb_held_for_a_day_is_240_gb_hours():
    integral, closing = integrate(D(10), [], 0, 24 * HOUR, "gauge")
    assert per_unit(integral, "hour") == D(240) and closing == D(10)
    assert per_unit(integral, "day") == D(10) and per_unit(integral, "minute") == D(14400)


def test_gauge_sets_delta_adds_and_order_does_not_matter():
    pts = [(2 * HOUR, 2, D("-1")), (HOUR, 1, D(3))]
    assert integrate(D(1), pts, 0, 3 * HOUR, "gauge") == (D(1) * HOUR + D(3) * HOUR + D(-1) * HOUR, D(-1))
    assert integrate(D(1), pts, 0, 3 * HOUR, "delta") == (D(1) * HOUR + D(4) * HOUR + D(3) * HOUR, D(3))
    assert opening_level([(5, 1, D(7)), (3, 2, D(2))], "gauge") == D(7)
    assert opening_level([(5, 1, D(7)), (3, 2, D(2))], "delta") == D(9)
    assert opening_level([(5, 2, D(1)), (5, 1, D(4))], "gauge") == D(1)  # same instant: ingest order


def test_microseconds_are_exact_and_the_one_division_follows_the_quantity_rule():
    integral, _ = integrate(D("0.1"), [(1, 1, D("0.3"))], 0, 3, "gauge")  # 0.1 for 1 µs, 0.3 for 2 µs
    assert integral == D("0.7")
    assert per_unit(D(1), "hour") == D("0.000000000277777777777777777778")  # 1/3.6e9, 30 places half-up
    assert per_unit(D(7200000000), "hour") == D(2)


def test_partials_of_adjacent_windows_add_up():
    a, b = Partial(tw=D(HOUR), tw_per="hour"), Partial(tw=D(2 * HOUR), tw_per="hour")
    assert a.merge(b).value("time_weighted") == D(3)
    assert Partial().value("time_weighted") == D(0)


def test_definition_parameters():
    spec = parse_meter_spec({"name": "s", "event_name": "e", "aggregation": {"type": "time_weighted", "key": "gb"}})
    assert spec.aggregation_params == {"mode": "gauge", "per": "hour"}
    spec = parse_meter_spec({"name": "s", "event_name": "e",
                             "aggregation": {"type": "TIME_WEIGHTED", "key": "gb", "mode": "Delta", "per": "day"}})
    assert spec.aggregation_params == {"mode": "delta", "per": "day"}
    for bad, field in (({"key": "gb", "per": "week"}, "aggregation.per"), ({"key": "gb", "mode": "x"}, "aggregation.mode"),
                       ({}, "aggregation.key")):
        with pytest.raises(ValidationError) as e:
            parse_meter_spec({"name": "s", "event_name": "e", "aggregation": {"type": "time_weighted", **bad}})
        assert e.value.field == field
    with pytest.raises(ValidationError) as e:
        parse_meter_spec({"name": "s", "event_name": "e", "aggregation": {"type": "sum", "key": "x", "mode": "gauge"}})
    assert e.value.field == "aggregation.mode"


def test_cli_creates_and_reports_a_time_weighted_meter(tmp_path):
    from typer.testing import CliRunner

    from meterbase.cli.main import app
    from meterbase.storage import open_store

    db = f"sqlite:///{tmp_path}/cli.db"
    runner = CliRunner()
    out = runner.invoke(app, ["meters", "create", "--name", "Storage held", "--event-name", "storage.snapshot",
                              "-a", "time_weighted", "-k", "gb", "--param", "mode=gauge", "-p", "per=day", "--unit", "GB-days",
                              "--db", db])
    assert out.exit_code == 0, out.output
    store = open_store(db)
    try:
        (meter,) = store.list_meters("test_mode", False, 10)
        assert (meter.aggregation, meter.key, meter.params) == ("time_weighted", "gb", {"mode": "gauge", "per": "day"})
        store.ingest("test_mode", [{"event_id": "s1", "customer_id": "cus_1", "event_name": "storage.snapshot",
                                    "timestamp": "2025-01-01T00:00:00Z", "metadata": {"gb": 10}}])
    finally:
        store.close()
    got = runner.invoke(app, ["usage", meter.id, "--from", "2025-01-01T00:00:00Z", "--to", "2025-02-01T00:00:00Z",
                              "--window", "month", "--db", db], env={"COLUMNS": "200"})
    assert got.exit_code == 0 and "310" in got.output, got.output  # 10 GB × 31 days
    listed = runner.invoke(app, ["meters", "list", "--db", db], env={"COLUMNS": "200"})
    assert "time_weighted(gb, gauge, day)" in listed.output
    bad = runner.invoke(app, ["meters", "create", "--name", "x", "--event-name", "y", "-a", "time_weighted", "-k", "gb",
                              "--param", "per=week", "--db", db])
    assert bad.exit_code != 0 and "aggregation.per" in bad.output
