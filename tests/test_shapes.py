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
from alertthrottle._core.alert import parse_device_id
from alertthrottle._core.columns import shaped_columns, shapes_of
from alertthrottle._core.shapes import ShapeTable, all_canonical
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


@given(st.lists(alerts(), max_size=30), st.integers(0, 3))
def test_shaped_columns_are_their_rows_before_their_columns_are_read(
    rows: list[Alert], read: int
) -> None:
    """The columns from the table are gathered when first read (any one of them first);
    a row is read from the table before."""
    table = ShapeTable()
    known: dict[tuple[object, ...], int] = {}
    for alert in rows:
        key = (alert.device_id, alert.code, alert.recipients)
        if key not in known:
            known[key] = table.add(*key)
    shapes = [known[alert.device_id, alert.code, alert.recipients] for alert in rows]
    columns = shaped_columns([alert.timestamp for alert in rows], shapes, table)
    assert [columns.alert(i) for i in range(len(rows))] == rows
    want = AlertColumns.of(rows)
    fields = ["timestamps", "device_ids", "codes", "recipients"]
    first = fields[read]
    assert getattr(columns, first) == getattr(want, first)
    for field in fields:
        assert getattr(columns, field) == getattr(want, field)
    assert [columns.alert(i) for i in range(len(rows))] == rows
    with pytest.raises(AttributeError):
        columns.nothing  # type: ignore[attr-defined]  # noqa: B018


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


@given(
    st.lists(
        st.text("0123456789ABCDEFabcdefG-:", min_size=21, max_size=25)
        | st.sampled_from(
            [DEVICE, DEVICE.lower(), DEVICE.replace("-", ":"), "00-0D-6F-00-0A-BC1-2-34"]
        ),
        max_size=5,
    )
)
def test_ids_are_all_canonical_as_parse_device_id_says(ids: list[str]) -> None:
    def canonical(value: str) -> bool:
        try:
            return parse_device_id(value) == value
        except InvalidAlertError:
            return False

    assert all_canonical(ids) == all(map(canonical, ids))


@pytest.mark.parametrize(
    "ids",
    [
        [DEVICE, "00-0D-6F-00-0A-BC1-2-34"],  # the dashes counted right, one out of place
        [DEVICE, DEVICE.lower()],
        ["00-0D-6F-00-0A-BC-12-3G"],
        ["00-0D-6F-00-0A-BC-12-345", "0-0D-6F-00-0A-BC-12-34"],  # lengths that add up
        ["00-0D-6F-00-0A-BC-12-3\u0663"],
    ],
)
def test_ids_not_all_canonical_are_told(ids: list[str]) -> None:
    assert not all_canonical(ids)
    assert all_canonical([DEVICE, "FF-FF-FF-FF-FF-FF-FF-FF"]) and all_canonical([])


@given(st.lists(alerts(), max_size=20))
def test_shapes_added_together_are_those_added_one_by_one(rows: list[Alert]) -> None:
    one, many = ShapeTable(), ShapeTable()
    one.add(DEVICE, 1)
    many.add(DEVICE, 1)
    spelled = [
        alert.device_id.lower() if i % 2 else alert.device_id for i, alert in enumerate(rows)
    ]
    lists = [list(alert.recipients) for alert in rows]
    for device, alert, names in zip(spelled, rows, lists, strict=True):
        one.add(device, alert.code, names)
    assert many.add_many(spelled, [alert.code for alert in rows], lists) == list(
        range(1, len(rows) + 1)
    )
    assert (many.device_ids, many.codes, many.recipients, many.positions) == (
        one.device_ids, one.codes, one.recipients, one.positions
    )  # fmt: skip


@pytest.mark.parametrize(
    ("column", "bad", "field"),
    [
        (0, "nope", "device_ids[1]"),
        (0, 7, "device_ids[1]"),
        (1, 0x10000, "codes[1]"),
        (1, True, "codes[1]"),
        (1, "zz", "codes[1]"),
        (2, ("",), "recipients[1]"),
        (2, "DNO", "recipients[1]"),
    ],
)
def test_shapes_added_together_are_all_or_nothing(column: int, bad: object, field: str) -> None:
    table = ShapeTable()
    shapes: list[list[object]] = [[DEVICE, DEVICE], [1, 2], [(), ("DNO",)]]
    shapes[column][1] = bad
    with pytest.raises(InvalidAlertError) as info:
        table.add_many(*shapes)  # type: ignore[arg-type]
    assert (info.value.field, info.value.value) == (field, bad)
    assert len(table) == 0


def test_shapes_added_together_take_the_indices_handed_out() -> None:
    table = ShapeTable(3)
    table.add(DEVICE, 1)
    indices = [int(str(i)) for i in (1, 2)]
    assert table.add_many([DEVICE, DEVICE], [2, 3], [(), ()], indices) == indices
    assert table.positions[1] is indices[0] and table.positions[2] is indices[1]
    assert shaped_columns([5, 6], indices, table).codes == (2, 3)
    for wrong in ([1], [-1], [False], [0.0]):
        with pytest.raises(InvalidAlertError, match="indices"):
            ShapeTable().add_many([DEVICE], [1], [()], wrong)  # type: ignore[list-item]
    with pytest.raises(InvalidAlertError, match="full"):
        table.add_many([DEVICE], [4], [()])
    with pytest.raises(InvalidAlertError, match="as many"):
        table.add_many([DEVICE], [4, 5], [()])
    assert len(table) == 3
