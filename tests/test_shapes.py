"""ShapeTable and shaped_columns: shapes checked once as Alert checks them, columns
gathered from the table equal to the columns made from the values."""

from __future__ import annotations

import pickle

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from value_helpers import LOOKALIKES

from alertthrottle import Alert, AlertColumns, InvalidAlertError
from alertthrottle._core.columns import shaped_columns, shapes_of
from alertthrottle._core.shapes import ShapeTable
from alertthrottle.testing import alerts

DEVICE = "00-0D-6F-00-0A-BC-12-34"


def test_a_shape_is_checked_and_converted_as_alert_does() -> None:
    table = ShapeTable()
    names = ("DNO-1",)
    assert table.add("00:0d:6f:00:0a:bc:12:34", "0x8014", names) == 0
    assert table.add(DEVICE, 5) == 1
    assert table.add(DEVICE, "DCC:N24", ["a", "b"]) == 2
    assert len(table) == 3
    assert table.device_ids == [DEVICE] * 3
    assert table.codes == [0x8014, 5, Alert(1, DEVICE, "DCC:N24").code]
    assert table.recipients == [names, (), ("a", "b")]
    assert table.recipients[0] is names  # the caller's tuple, kept


@pytest.mark.parametrize(
    ("shape", "field"),
    [
        (("nope", 1, ()), "device_id"),
        ((1, 1, ()), "device_id"),
        ((DEVICE, 0x10000, ()), "code"),
        ((DEVICE, "zz", ()), "code"),
        ((DEVICE, True, ()), "code"),
        ((DEVICE, 1, "DNO-1"), "recipients"),
        ((DEVICE, 1, ("",)), "recipients"),
        ((DEVICE, 1, (1,)), "recipients"),
    ],
)
def test_a_bad_shape_is_refused_naming_its_field(shape: tuple[object, ...], field: str) -> None:
    table = ShapeTable()
    with pytest.raises(InvalidAlertError) as info:
        table.add(*shape)  # type: ignore[arg-type]
    assert info.value.field == field
    with pytest.raises(InvalidAlertError):
        Alert(1, *shape)  # type: ignore[arg-type]
    assert len(table) == 0


@pytest.mark.parametrize("value", LOOKALIKES, ids=repr)
def test_a_lookalike_shape_is_taken_or_refused_as_alert_does(value: object) -> None:
    for shape in ((value, 1, ()), (DEVICE, value, ()), (DEVICE, 1, (value,))):
        try:
            expected: object = Alert(1, *shape)  # type: ignore[arg-type]
        except InvalidAlertError as exc:
            expected = exc.field
        try:
            table = ShapeTable()
            index = table.add(*shape)  # type: ignore[arg-type]
        except InvalidAlertError as exc:
            assert exc.field == expected
        else:
            assert shaped_columns([1], [index], table).alert(0) == expected


def test_a_full_table_takes_no_more() -> None:
    table = ShapeTable(2)
    table.add(DEVICE, 1)
    assert table.room == 1
    table.add(DEVICE, 2)
    assert table.room == 0
    with pytest.raises(InvalidAlertError, match="full"):
        table.add(DEVICE, 3)
    assert len(table) == 2
    with pytest.raises(InvalidAlertError, match="size"):
        ShapeTable(0)


@given(st.lists(alerts(), max_size=30))
def test_shaped_columns_are_the_columns_of_their_rows(rows: list[Alert]) -> None:
    table = ShapeTable()
    shapes = []
    known: dict[tuple[object, ...], int] = {}
    for alert in rows:
        key = (alert.device_id, alert.code, alert.recipients)
        if key not in known:
            known[key] = table.add(*key)
        shapes.append(known[key])
    columns = shaped_columns([alert.timestamp for alert in rows], shapes, table)
    assert columns == AlertColumns.of(rows)
    assert list(columns) == rows
    assert shapes_of(columns) == (tuple(shapes), table)
    assert shapes_of(AlertColumns.of(rows)) is None
    # Not part of the value: a copy made by pickle is equal (and has no shapes), repr,
    # asdict and evolve know the columns only.
    copied = pickle.loads(pickle.dumps(columns))
    assert copied == columns
    assert shapes_of(copied) is None
    assert "shape" not in repr(columns)
    assert hash(columns) == hash(AlertColumns.of(rows))
    assert list(attrs.asdict(columns)) == ["timestamps", "device_ids", "codes", "recipients"]
    assert attrs.evolve(columns) == columns


@pytest.mark.parametrize("bad", [-1, 2, True, 1.0, None, "0"])
@pytest.mark.parametrize("row", [0, 1, 2])
def test_a_bad_shape_index_is_refused_naming_its_row(bad: object, row: int) -> None:
    table = ShapeTable()
    table.add(DEVICE, 1)
    table.add(DEVICE, 2)
    shapes: list[object] = [0, 1, 0]
    shapes[row] = bad
    with pytest.raises(InvalidAlertError) as info:
        shaped_columns([1, 2, 3], shapes, table)  # type: ignore[arg-type]
    assert (info.value.field, info.value.value) == (f"shapes[{row}]", bad)


def test_shaped_times_are_checked_and_lengths_must_agree() -> None:
    table = ShapeTable()
    table.add(DEVICE, 1)
    with pytest.raises(InvalidAlertError, match=r"timestamps\[1\]"):
        shaped_columns([1, float("nan")], [0, 0], table)
    with pytest.raises(InvalidAlertError, match="shapes"):
        shaped_columns([1, 2], [0], table)
    assert len(shaped_columns([], [], table)) == 0
    one = shaped_columns([7], [0], table)
    assert list(one) == [Alert(7, DEVICE, 1)]


def test_indices_equal_to_the_tables_but_other_objects_are_taken() -> None:
    # The bulk check asks for the table's own int objects; equal ints made elsewhere (an
    # Arrow column's, a sum) are checked one by one and taken.
    table = ShapeTable()
    for code in range(300):
        table.add(DEVICE, code)
    shapes = [int(str(i)) for i in (299, 0, 257, 299)]
    assert shapes[0] is not table.positions[299]
    columns = shaped_columns([1, 2, 3, 4], shapes, table)
    assert columns.codes == (299, 0, 257, 299)
    assert shapes_of(columns) == ((299, 0, 257, 299), table)
    with pytest.raises(InvalidAlertError, match=r"shapes\[1\]"):
        shaped_columns([1, 2], [299, 300], table)
