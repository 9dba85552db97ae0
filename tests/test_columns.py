"""AlertColumns: the same checks and conversions as Alert, a column at a time."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from value_helpers import LOOKALIKES, anything, lookalikes

from alertthrottle import Alert, AlertColumns, InvalidAlertError
from alertthrottle.testing import alerts

DEVICE = "00-0D-6F-00-0A-BC-12-34"


def alert_or_error(*fields: object) -> Alert | tuple[str, object]:
    """The alert Alert(*fields) makes, or the problem and value it refuses with."""
    try:
        return Alert(*fields)  # type: ignore[arg-type]
    except InvalidAlertError as exc:
        return exc.problem, exc.value


@given(st.lists(alerts(), max_size=20))
def test_rows_are_the_alerts_they_were_made_of(rows: list[Alert]) -> None:
    columns = AlertColumns.of(rows)
    assert len(columns) == len(rows)
    assert list(columns) == rows
    assert [columns.alert(i) for i in range(len(rows))] == rows
    assert AlertColumns.of(columns) == columns


def test_values_are_converted_as_alert_converts_them() -> None:
    columns = AlertColumns(
        [1, 2.5], ["00:0d:6f:00:0a:bc:12:34", DEVICE], ["0x8014", 0x8015], [["DNO-1"], ()]
    )
    assert list(columns) == [
        Alert(1, DEVICE, 0x8014, ("DNO-1",)),
        Alert(2.5, DEVICE, 0x8015),
    ]
    assert columns.device_ids == (DEVICE, DEVICE)
    assert columns.recipients == (("DNO-1",), ())
    assert AlertColumns([3], [DEVICE], ["DCC:N24"]).codes == (Alert(3, DEVICE, "DCC:N24").code,)


def test_recipients_may_be_left_out() -> None:
    assert AlertColumns([1, 2], [DEVICE] * 2, [1, 2]).recipients == ((), ())
    assert len(AlertColumns([], [], [])) == 0


@given(anything | lookalikes, st.sampled_from(["timestamps", "device_ids", "codes", "recipients"]))
def test_a_bad_value_is_refused_naming_its_column_and_row(value: object, column: str) -> None:
    good: dict[str, list[object]] = {
        "timestamps": [1, 2],
        "device_ids": [DEVICE, DEVICE],
        "codes": [1, 2],
        "recipients": [(), ("DNO-1",)],
    }
    good[column][1] = value
    row = [good[name][1] for name in ("timestamps", "device_ids", "codes", "recipients")]
    expected = alert_or_error(*row)
    try:
        columns = AlertColumns(**good)  # type: ignore[arg-type]
    except InvalidAlertError as exc:
        assert exc.field == f"{column}[1]"
        assert exc.value is value
        # Alert refuses it too (Alert also takes aware datetimes as times: columns do not).
        assert isinstance(expected, tuple) or column == "timestamps"
    else:
        assert columns.alert(1) == expected


@pytest.mark.parametrize("value", LOOKALIKES, ids=repr)
@pytest.mark.parametrize("column", ["timestamps", "device_ids", "codes"])
@pytest.mark.parametrize("row", [0, 1, 2])
def test_a_lookalike_anywhere_in_a_column_is_taken_or_refused_as_alert_does(
    value: object, column: str, row: int
) -> None:
    # The bulk passes test exact types and bounds a column at a time: a subclass, a
    # bool or a NaN first, in the middle or last must still be refused by name and row.
    good: dict[str, list[object]] = {
        "timestamps": [1, 2.5, 3],
        "device_ids": [DEVICE, "00:0d:6f:00:0a:bc:12:34", DEVICE],
        "codes": [1, 0x8014, 2],
    }
    good[column][row] = value
    expected = alert_or_error(*(good[name][row] for name in good))
    try:
        columns = AlertColumns(**good)  # type: ignore[arg-type]
    except InvalidAlertError as exc:
        assert (exc.field, exc.value) == (f"{column}[{row}]", value)
        assert isinstance(expected, tuple)  # Alert refuses it too
    else:
        assert list(columns) == [Alert(*(good[name][i] for name in good)) for i in range(3)]  # type: ignore[arg-type]
        assert all(type(d) is str for d in columns.device_ids)


@pytest.mark.parametrize(
    ("column", "value"),
    [("device_ids", [DEVICE]), ("codes", [1, 2, 3]), ("recipients", [()])],
)
def test_columns_of_another_length_are_refused(column: str, value: list[object]) -> None:
    fields: dict[str, list[object]] = {
        "timestamps": [1, 2],
        "device_ids": [DEVICE, DEVICE],
        "codes": [1, 2],
        "recipients": [(), ()],
    }
    fields[column] = value
    with pytest.raises(InvalidAlertError, match=column):
        AlertColumns(**fields)  # type: ignore[arg-type]


def test_of_refuses_what_is_not_an_alert() -> None:
    with pytest.raises(InvalidAlertError, match=r"alerts\[1\]"):
        AlertColumns.of([Alert(1, DEVICE, 1), (2, DEVICE, 1)])  # type: ignore[list-item]


def test_columns_are_frozen() -> None:
    columns = AlertColumns([1], [DEVICE], [1])
    with pytest.raises(AttributeError):
        columns.codes = (2,)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("times", "row"),
    [
        ([float("nan"), 10**400, 1.0], 0),  # the sum overflows: a NaN hides the int
        ([1.0, 10**400], 1),
        ([5.0, float("inf"), 1.0], 1),
        ([3.0, 1.0, -0.5], 2),
        ([2.0, float("nan"), 1.0], 1),
    ],
)
def test_times_out_of_order_or_out_of_range_are_refused_at_their_row(
    times: list[float], row: int
) -> None:
    # The bounds come from one sort of the times; whatever their order, the first bad
    # time is named as Alert names it.
    with pytest.raises(InvalidAlertError) as info:
        AlertColumns(times, [DEVICE] * len(times), [1] * len(times))
    assert info.value.field == f"timestamps[{row}]"
    assert info.value.value is times[row]
    assert AlertColumns([3.0, 1, 2.5], [DEVICE] * 3, [1] * 3).timestamps == (3.0, 1, 2.5)
