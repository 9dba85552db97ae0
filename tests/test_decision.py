"""Decisions and their DUIS metadata."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from value_helpers import anything, assert_refusal

from alertthrottle import Decision, InvalidAlertError, Stats, ThrottleMetadata, Verdict
from alertthrottle._core.decision import made_decision, pending_metadata


def test_metadata_derives_previously_throttled():
    assert ThrottleMetadata(throttled_count=3, sequence_id=7) == ThrottleMetadata(True, 3, 7)
    assert ThrottleMetadata() == ThrottleMetadata(False, 0, None)


def test_to_duis_omits_elements_when_nothing_was_throttled():
    assert ThrottleMetadata().to_duis() == {}
    assert ThrottleMetadata(True, 3, 1).to_duis() == {
        "ThrottledAlertCount": 3,
        "ThrottledAlertSequenceId": 1,
    }


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((True, 0, None), "previously_throttled"),
        ((False, 2, 1), "previously_throttled"),
        ((True, 2, None), "sequence_id"),
        ((False, 0, 4), "sequence_id"),
        ((False, -1, None), "throttled_count"),
        ((True, 2.0, 1), "throttled_count"),
        ((True, 2, 0), "sequence_id"),
        ((True, 2, True), "sequence_id"),
        ((True, 2, "1"), "sequence_id"),
        ((1, 2, 1), "previously_throttled"),
    ],
)
def test_inconsistent_metadata_is_refused(args, field):
    with pytest.raises(InvalidAlertError) as info:
        ThrottleMetadata(*args)
    assert info.value.field == field
    assert (
        info.value.value
        is args[("previously_throttled", "throttled_count", "sequence_id").index(field)]
    )


def test_verdicts_are_strings_for_json():
    assert Verdict.THROTTLE == "THROTTLE"
    assert [v.value for v in Verdict] == ["DELIVER", "THROTTLE", "EXEMPT"]


def test_decision_defaults():
    d = Decision(Verdict.EXEMPT)
    assert (d.metadata, d.late, d.events, d.sampled) == (ThrottleMetadata(), False, (), False)


def test_stats_start_at_zero():
    assert Stats().total == 0 and Stats(total=3).total == 3


def test_equality_compares_what_the_spec_defines():
    # Informational fields do not make two otherwise equal values differ.
    assert Stats(7, 4, 3, 0, 0) == Stats(7, 4, 3, 0, 0, episodes=1, tracked_keys=5)
    assert Stats(7, 4, 3, 0, 0) != Stats(7, 5, 2, 0, 0)
    assert Decision(Verdict.DELIVER, ThrottleMetadata(True, 2, 1)) == Decision(
        Verdict.DELIVER, ThrottleMetadata(True, 2, 1), sampled=True
    )


def test_events_compare_without_recipients_and_build_positionally():
    from alertthrottle import ThrottlingEnded, ThrottlingStarted

    started = ThrottlingStarted("00-0D-6F-00-0A-BC-12-34", 0x8014, 3, 1, 4)
    assert started == ThrottlingStarted(
        device_id="00-0D-6F-00-0A-BC-12-34",
        code=0x8014,
        at=3,
        sequence_id=1,
        window_count=4,
        recipients=("DNO-1",),
    )
    ended = ThrottlingEnded("00-0D-6F-00-0A-BC-12-34", 0x8014, 14, 1, 3, 3, 0)
    assert (ended.started_at, ended.throttled_count, ended.sampled_count) == (3, 3, 0)
    assert ended != ThrottlingEnded("00-0D-6F-00-0A-BC-12-34", 0x8014, 14, 1, 3, 2, 1)


@given(anything, anything | st.integers(0, 5), anything | st.integers(1, 5))
def test_any_metadata_is_consistent_or_refused_naming_a_field(previously, count, sequence):
    count_ok = type(count) is int and count >= 0
    consistent = (
        count_ok
        and (previously is None or previously is (count > 0))
        and (type(sequence) is int and sequence >= 1 if count > 0 else sequence is None)
    )
    if consistent:
        metadata = ThrottleMetadata(previously, count, sequence)
        assert metadata.to_duis() == (
            {"ThrottledAlertCount": count, "ThrottledAlertSequenceId": sequence} if count else {}
        )
        return
    with pytest.raises(InvalidAlertError) as info:
        ThrottleMetadata(previously, count, sequence)
    field = info.value.field
    given_ = {"previously_throttled": previously, "throttled_count": count, "sequence_id": sequence}
    assert_refusal(info.value, field, given_[field])
    if not count_ok:
        assert field == "throttled_count"


@given(
    st.sampled_from(Verdict),
    st.sampled_from([ThrottleMetadata(), ThrottleMetadata(True, 2, 7)]),
    st.booleans(),
    st.booleans(),
)
def test_made_decision_is_the_constructors_decision(
    verdict: Verdict, metadata: ThrottleMetadata, late: bool, sampled: bool
) -> None:
    made = made_decision(verdict, metadata, late, (), sampled)
    expected = Decision(verdict, metadata, late, (), sampled)
    assert type(made) is Decision
    assert made == expected and hash(made) == hash(expected) and repr(made) == repr(expected)
    assert made.sampled is sampled
    with pytest.raises(AttributeError):
        made.late = not late  # type: ignore[misc]


def test_pending_metadata_is_the_constructors_metadata() -> None:
    made = pending_metadata(3, 2)
    expected = ThrottleMetadata(True, 3, 2)
    assert type(made) is ThrottleMetadata
    assert made == expected and hash(made) == hash(expected) and repr(made) == repr(expected)
    assert made.to_duis() == {"ThrottledAlertCount": 3, "ThrottledAlertSequenceId": 2}
