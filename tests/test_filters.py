"""Meter filters: parsing/validation (field-precise errors) and operator truth tables."""

from __future__ import annotations

import pytest

from meterbase.errors import ValidationError
from meterbase.meters.filters import MAX_CLAUSES, MAX_DEPTH, compile_filter, parse_filter


def cond(key, operator, value=None, *, with_value=True):
    c = {"key": key, "operator": operator}
    if with_value:
        c["value"] = value
    return c


def pred(*clauses, conjunction="and"):
    return compile_filter(parse_filter({"conjunction": conjunction, "clauses": list(clauses)}))


def check(clause, metadata):
    return pred(clause)(metadata)


# ---------------------------------------------------------------------------------------------
# Truth tables: (operator, target, metadata value, expected). MISSING = key absent.
# ---------------------------------------------------------------------------------------------
MISSING = object()

TRUTH = [
    # equals: numeric when both sides numeric, textual otherwise
    ("equals", 1500, 1500, True),
    ("equals", 1500, "1500", True),
    ("equals", "1500", 1500, True),
    ("equals", 1500, "1500.00", True),
    ("equals", 1500, 1500.0, True),
    ("equals", "0.1", 0.1, True),
    ("equals", 0.1, "0.10", True),
    ("equals", 1500, " 1500 ", True),
    ("equals", 1500, "1e3", False),
    ("equals", 1000, "1e3", True),
    ("equals", 1500, 1501, False),
    ("equals", 1500, "1,500", False),
    ("equals", "premium", "premium", True),
    ("equals", "premium", "Premium", False),
    ("equals", "premium", "premium ", False),
    ("equals", True, True, True),
    ("equals", True, "true", True),
    ("equals", "true", True, True),
    ("equals", True, False, False),
    ("equals", False, "false", True),
    ("equals", True, 1, False),  # booleans are not numbers
    ("equals", 1, True, False),
    ("equals", "x", MISSING, False),
    # not_equals: exact negation, and a missing key matches
    ("not_equals", 1500, "1500", False),
    ("not_equals", 1500, 1499, True),
    ("not_equals", "premium", "basic", True),
    ("not_equals", "premium", "premium", False),
    ("not_equals", True, "true", False),
    ("not_equals", True, 1, True),
    ("not_equals", "x", MISSING, True),
    # ordering: numeric only (not lexicographic); non-numeric values never match
    ("greater_than", 9, "10", True),  # lexicographically "10" < "9"
    ("greater_than", "9", 10, True),
    ("greater_than", 9, 9, False),
    ("greater_than", 9, "9.0001", True),
    ("greater_than", "0.1", 0.2, True),
    ("greater_than", 9, "abc", False),
    ("greater_than", 0, True, False),
    ("greater_than", -5, -4, True),
    ("greater_than", 9, MISSING, False),
    ("greater_than_or_equals", 9, 9, True),
    ("greater_than_or_equals", 9, "9", True),
    ("greater_than_or_equals", "10", 9, False),
    ("greater_than_or_equals", 9, "zzz", False),
    ("greater_than_or_equals", 9, MISSING, False),
    ("less_than", 10, "9", True),  # lexicographically "9" > "10"
    ("less_than", "10", 9.5, True),
    ("less_than", 10, 10, False),
    ("less_than", 10, "", False),
    ("less_than", 1, False, False),
    ("less_than", 10, MISSING, False),
    ("less_than_or_equals", 10, "10.0", True),
    ("less_than_or_equals", 10, 10.5, False),
    ("less_than_or_equals", 10, "ten", False),
    ("less_than_or_equals", 10, MISSING, False),
    # contains / does_not_contain: on canonical text
    ("contains", "prem", "premium", True),
    ("contains", "PREM", "premium", False),
    ("contains", "50", 1500, True),
    ("contains", 50, "1500", True),
    ("contains", "ru", True, True),
    ("contains", "1.0", 1.0, False),  # float 1.0 has canonical text "1"
    ("contains", "x", "premium", False),
    ("contains", "x", MISSING, False),
    ("does_not_contain", "prem", "premium", False),
    ("does_not_contain", "x", "premium", True),
    ("does_not_contain", "50", 1500, False),
    ("does_not_contain", "x", MISSING, True),
    # in / not_in: equals against any option
    ("in", ["a", "b"], "a", True),
    ("in", ["a", "b"], "c", False),
    ("in", [1, 2, 3], "2", True),
    ("in", ["1", "2"], 2, True),
    ("in", ["1", "2"], 2.0, True),
    ("in", [True], "true", True),
    ("in", [1], True, False),
    ("in", ["a"], MISSING, False),
    ("not_in", ["a", "b"], "a", False),
    ("not_in", ["a", "b"], "c", True),
    ("not_in", [1, 2], "2", False),
    ("not_in", [1, 2], "3", True),
    ("not_in", ["a"], MISSING, True),
]


@pytest.mark.parametrize(("operator", "target", "value", "expected"), TRUTH)
def test_operator_truth_table(operator, target, value, expected):
    metadata = {"other": "zzz"} if value is MISSING else {"k": value, "other": "zzz"}
    assert check(cond("k", operator, target), metadata) is expected


@pytest.mark.parametrize(
    ("value", "metadata", "expected"),
    [
        (None, {"k": 1}, True),
        (None, {"k": False}, True),
        (None, {"k": ""}, True),
        (None, {}, False),
        (True, {"k": "x"}, True),
        (True, {"j": "x"}, False),
        (False, {"k": "x"}, False),
        (False, {"j": "x"}, True),
    ],
)
def test_exists(value, metadata, expected):
    clause = {"key": "k", "operator": "exists"} if value is None else cond("k", "exists", value)
    assert check(clause, metadata) is expected


def test_negative_operators_are_complements_of_positive_on_present_keys():
    values = [0, 1, -1, 10, "10", "9", "abc", "", True, False, 0.5, "0.50", "premium"]
    targets = [0, 10, "10", "abc", True, "a", "0.5"]
    for v in values:
        for t in targets:
            m = {"k": v}
            assert check(cond("k", "equals", t), m) is not check(cond("k", "not_equals", t), m), (v, t)
            assert check(cond("k", "contains", t), m) is not check(cond("k", "does_not_contain", t), m), (v, t)
            assert check(cond("k", "in", [t]), m) is not check(cond("k", "not_in", [t]), m), (v, t)
    # but on a missing key, both positive and negative forms are "False / True" (not complements of each other)
    for op, expected in [("equals", False), ("not_equals", True), ("contains", False), ("does_not_contain", True)]:
        assert check(cond("k", op, "a"), {}) is expected
    assert check(cond("k", "in", ["a"]), {}) is False
    assert check(cond("k", "not_in", ["a"]), {}) is True


def test_aliases_normalise():
    f = parse_filter({"clauses": [cond("k", "gte", 5), cond("k", "lt", "10"), cond("j", "eq", "x"), cond("j", "ne", "y")]})
    assert [c["operator"] for c in f["clauses"]] == ["greater_than_or_equals", "less_than", "equals", "not_equals"]
    assert f["conjunction"] == "and"  # default
    p = compile_filter(f)
    assert p({"k": 5, "j": "x"}) is True
    assert p({"k": "10", "j": "x"}) is False
    assert p({"k": 4, "j": "x"}) is False
    f2 = parse_filter({"clauses": [cond("k", "greater_than_or_equal", 1), cond("k", "less_than_or_equal", 2)]})
    assert [c["operator"] for c in f2["clauses"]] == ["greater_than_or_equals", "less_than_or_equals"]


def test_conjunction_is_case_insensitive():
    assert parse_filter({"conjunction": "OR", "clauses": [cond("k", "exists", True)]})["conjunction"] == "or"


def test_no_filter_matches_everything():
    assert parse_filter(None) is None
    p = compile_filter(None)
    assert p({}) is True
    assert p({"a": 1}) is True


def test_and_or_truth_tables():
    a = cond("a", "equals", 1)
    b = cond("b", "equals", 1)
    and_p = pred(a, b, conjunction="and")
    or_p = pred(a, b, conjunction="or")
    for av in (0, 1):
        for bv in (0, 1):
            m = {"a": av, "b": bv}
            assert and_p(m) is bool(av and bv), m
            assert or_p(m) is bool(av or bv), m
    assert and_p({}) is False
    assert or_p({"b": "1"}) is True


def test_nested_groups():
    # tier == premium AND (region in [eu, us] OR tokens > 1000) AND NOT-contains "test" in name
    f = {
        "conjunction": "and",
        "clauses": [
            cond("tier", "equals", "premium"),
            {
                "conjunction": "or",
                "clauses": [
                    cond("region", "in", ["eu", "us"]),
                    cond("tokens", "greater_than", 1000),
                ],
            },
            cond("name", "does_not_contain", "test"),
        ],
    }
    p = compile_filter(parse_filter(f))
    cases = [
        ({"tier": "premium", "region": "eu"}, True),
        ({"tier": "premium", "region": "apac", "tokens": "1001"}, True),
        ({"tier": "premium", "region": "apac", "tokens": "1000"}, False),
        ({"tier": "premium", "tokens": 5000, "name": "my-test"}, False),
        ({"tier": "premium", "tokens": 5000, "name": "prod"}, True),
        ({"tier": "basic", "region": "eu"}, False),
        ({"region": "eu"}, False),
        ({"tier": "premium"}, False),
    ]
    for metadata, expected in cases:
        assert p(metadata) is expected, metadata


def test_nesting_to_max_depth_is_allowed_and_evaluated():
    leaf = cond("k", "equals", 1)
    tree: dict = {"conjunction": "and", "clauses": [leaf]}
    for _ in range(MAX_DEPTH - 1):
        tree = {"conjunction": "or", "clauses": [tree, cond("never", "exists", True)]}
    p = compile_filter(parse_filter(tree))
    assert p({"k": "1"}) is True
    assert p({"k": 2}) is False
    assert p({"k": 2, "never": 0}) is True


def test_parse_normalises_exists_default_value():
    f = parse_filter({"clauses": [{"key": "k", "operator": "exists"}]})
    assert f == {"conjunction": "and", "clauses": [{"key": "k", "operator": "exists", "value": True}]}


# ---------------------------------------------------------------------------------------------
# Invalid filters: ValidationError with the right field path
# ---------------------------------------------------------------------------------------------
def _deep(levels: int) -> dict:
    tree: dict = {"conjunction": "and", "clauses": [cond("k", "equals", 1)]}
    for _ in range(levels - 1):
        tree = {"conjunction": "and", "clauses": [tree]}
    return tree


INVALID = [
    ("not a dict", "filter"),
    ([cond("k", "equals", 1)], "filter"),
    ({"conjunction": "xor", "clauses": [cond("k", "equals", 1)]}, "filter.conjunction"),
    ({"conjunction": None, "clauses": [cond("k", "equals", 1)]}, "filter.conjunction"),
    ({"conjunction": "and"}, "filter.clauses"),
    ({"conjunction": "and", "clauses": []}, "filter.clauses"),
    ({"conjunction": "and", "clauses": "k=1"}, "filter.clauses"),
    ({"clauses": [cond("k", "equals", 1)] * (MAX_CLAUSES + 1)}, "filter.clauses"),
    ({"clauses": ["k=1"]}, "filter.clauses[0]"),
    ({"clauses": [cond("", "equals", 1)]}, "filter.clauses[0].key"),
    ({"clauses": [cond(None, "equals", 1)]}, "filter.clauses[0].key"),
    ({"clauses": [{"operator": "equals", "value": 1}]}, "filter.clauses[0].key"),
    ({"clauses": [cond("k", "equals", 1), cond("k", "like", 1)]}, "filter.clauses[1].operator"),
    ({"clauses": [cond("k", None, 1)]}, "filter.clauses[0].operator"),
    ({"clauses": [cond("k", "equals", None)]}, "filter.clauses[0].value"),
    ({"clauses": [cond("k", "equals", [1])]}, "filter.clauses[0].value"),
    ({"clauses": [cond("k", "equals", {"a": 1})]}, "filter.clauses[0].value"),
    ({"clauses": [cond("k", "equals", 1, with_value=False)]}, "filter.clauses[0].value"),
    ({"clauses": [cond("k", "greater_than", "abc")]}, "filter.clauses[0].value"),
    ({"clauses": [cond("k", "less_than", True)]}, "filter.clauses[0].value"),
    ({"clauses": [cond("k", "greater_than_or_equals", "NaN")]}, "filter.clauses[0].value"),
    ({"clauses": [cond("k", "in", [])]}, "filter.clauses[0].value"),
    ({"clauses": [cond("k", "in", "a")]}, "filter.clauses[0].value"),
    ({"clauses": [cond("k", "not_in", [["a"]])]}, "filter.clauses[0].value"),
    ({"clauses": [cond("k", "in", [None])]}, "filter.clauses[0].value"),
    ({"clauses": [cond("k", "exists", "yes")]}, "filter.clauses[0].value"),
    ({"clauses": [cond("k", "exists", 1)]}, "filter.clauses[0].value"),
    (
        {"clauses": [cond("a", "exists", True), {"conjunction": "or", "clauses": [cond("b", "equals", 1), cond("c", "bogus", 1)]}]},
        "filter.clauses[1].clauses[1].operator",
    ),
    ({"clauses": [cond("a", "exists", True), {"conjunction": "nand", "clauses": [cond("b", "equals", 1)]}]}, "filter.clauses[1].conjunction"),
    ({"clauses": [{"conjunction": "or", "clauses": []}]}, "filter.clauses[0].clauses"),
    (_deep(MAX_DEPTH + 1), "filter" + ".clauses[0]" * MAX_DEPTH),
]


@pytest.mark.parametrize(("raw", "field"), INVALID)
def test_invalid_filter_raises_with_field(raw, field):
    with pytest.raises(ValidationError) as exc:
        parse_filter(raw)
    assert exc.value.field == field
    assert exc.value.message


def test_max_depth_exactly_is_valid():
    assert parse_filter(_deep(MAX_DEPTH)) is not None


def test_max_clauses_exactly_is_valid():
    f = parse_filter({"clauses": [cond("k", "equals", i) for i in range(MAX_CLAUSES)]})
    assert len(f["clauses"]) == MAX_CLAUSES


def test_invalid_filter_in_meter_spec_reports_filter_path(store):
    with pytest.raises(ValidationError) as exc:
        store.create_meter(
            "test_mode",
            {
                "name": "m",
                "event_name": "e",
                "aggregation": {"type": "count"},
                "filter": {"clauses": [cond("k", "greater_than", "lots")]},
            },
        )
    assert exc.value.field == "filter.clauses[0].value"
    assert store.list_meters("test_mode") == []


# ---------------------------------------------------------------------------------------------
# Bounds, as numbers (issue 19: the limits a meter definition may reach, not just "the constant")
# ---------------------------------------------------------------------------------------------
def test_nesting_limit_is_five_levels():
    assert parse_filter(_deep(5)) is not None
    with pytest.raises(ValidationError) as exc:
        parse_filter(_deep(6))
    assert "5 levels" in exc.value.message


def test_clause_limit_is_one_hundred_per_group():
    assert len(parse_filter({"clauses": [cond("k", "equals", i) for i in range(100)]})["clauses"]) == 100
    with pytest.raises(ValidationError) as exc:
        parse_filter({"clauses": [cond("k", "equals", i) for i in range(101)]})
    assert (exc.value.field, "at most 100 clauses" in exc.value.message) == ("filter.clauses", True)


def test_whole_tree_holds_at_most_two_hundred_clauses():
    half = {"conjunction": "or", "clauses": [cond("k", "equals", i) for i in range(99)]}
    assert parse_filter({"clauses": [half, half]}) is not None  # 2 groups + 198 conditions = 200
    with pytest.raises(ValidationError) as exc:
        parse_filter({"clauses": [half, half, cond("k", "exists")]})  # 201
    assert "at most 200 clauses in all" in exc.value.message


def test_in_lists_hold_at_most_one_thousand_values():
    assert parse_filter({"clauses": [cond("k", "in", list(range(1000)))]}) is not None
    with pytest.raises(ValidationError) as exc:
        parse_filter({"clauses": [cond("k", "equals", 1), cond("k", "not_in", list(range(20_000)))]})
    assert exc.value.field == "filter.clauses[1].value"
    assert "at most 1000 values; got 20000" in exc.value.message
    six = [cond(f"k{i}", "in", list(range(1000))) for i in range(5)] + [cond("j", "in", [1])]
    with pytest.raises(ValidationError) as exc:  # 5001 values over the tree
        parse_filter({"clauses": six})
    assert (exc.value.field, "at most 5000" in exc.value.message) == ("filter.clauses[5].value", True)


@pytest.mark.parametrize(("clause", "field", "bound"), [
    (cond("k" * 129, "equals", 1), "filter.clauses[0].key", "128"),
    (cond("k", "equals", "x" * 4097), "filter.clauses[0].value", "4096"),
    (cond("k", "in", ["a", "x" * 4097]), "filter.clauses[0].value[1]", "4096"),
])
def test_keys_and_values_are_bounded_like_event_metadata(clause, field, bound):
    with pytest.raises(ValidationError) as exc:
        parse_filter({"clauses": [clause]})
    assert exc.value.field == field and bound in exc.value.message
    assert parse_filter({"clauses": [cond("k" * 128, "equals", "x" * 4096)]}) is not None


def test_nested_group_without_conjunction_is_and():
    f = parse_filter({"conjunction": "or", "clauses": [{"clauses": [cond("a", "equals", 1), cond("b", "equals", 1)]}]})
    assert f["clauses"][0]["conjunction"] == "and"
    p = compile_filter(f)
    assert (p({"a": 1, "b": 1}), p({"a": 1, "b": 2}), p({"a": 2, "b": 1})) == (True, False, False)


# ---------------------------------------------------------------------------------------------
# `in` / `not_in` as hash sets: the same answers as comparing against every option
# ---------------------------------------------------------------------------------------------
from decimal import Decimal  # noqa: E402

from hypothesis import given, settings, strategies as st  # noqa: E402

from meterbase.events.values import parse_number, to_text  # noqa: E402


def _equal_by_definition(a, b) -> bool:
    """The README's rule, literally: numeric when both sides are numbers, textual otherwise."""
    da, db = parse_number(a), parse_number(b)
    if da is not None and db is not None:
        return da == db
    return to_text(a) == to_text(b)


_scalar = st.one_of(
    st.sampled_from(["1", "1.0", "01", " 1 ", "1e0", "1E+0", "+1", "-0", "0", "0.0", "1e40", "1E40", "1e-40",
                     "true", "True", "false", "abc", "", "NaN", "Infinity", "1,0", "2", "2.50", "2.5"]),
    st.integers(-3, 3), st.sampled_from([2**63 - 1, 10**40]), st.booleans(),
    st.sampled_from([0.0, 1.0, 2.5, 0.1, 1e40, -0.0, 1e-7]),
    st.text(alphabet="12.e-+ a", max_size=5),
)


@settings(max_examples=400, deadline=None)
@given(options=st.lists(_scalar, min_size=1, max_size=12), values=st.lists(_scalar, min_size=1, max_size=12))
def test_in_and_not_in_agree_with_pairwise_equality(options, values):
    is_in = compile_filter(parse_filter({"clauses": [cond("k", "in", options)]}))
    not_in = compile_filter(parse_filter({"clauses": [cond("k", "not_in", options)]}))
    for v in values:
        expected = any(_equal_by_definition(v, o) for o in options)
        assert is_in({"k": v}) is expected, (v, options)
        assert not_in({"k": v}) is (not expected), (v, options)
        assert check(cond("k", "equals", options[0]), {"k": v}) is _equal_by_definition(v, options[0])


def test_numbers_beyond_the_meter_range_still_compare_as_numbers():
    assert check(cond("k", "equals", "1e40"), {"k": "1E+40"}) is True
    assert check(cond("k", "greater_than", "1e40"), {"k": 10**41}) is True
    assert check(cond("k", "in", ["5", "x"]), {"k": Decimal("5.000")}) is True
