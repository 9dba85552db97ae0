"""Decisions and their DUIS metadata."""

from __future__ import annotations

import pytest

from alertthrottle import Decision, Stats, ThrottleMetadata, Verdict


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
    ],
)
def test_inconsistent_metadata_is_refused(args, field):
    with pytest.raises(ValueError, match=field):
        ThrottleMetadata(*args)


def test_verdicts_are_strings_for_json():
    assert Verdict.THROTTLE == "throttle"
    assert [v.value for v in Verdict] == ["deliver", "throttle", "exempt"]


def test_decision_defaults():
    d = Decision(Verdict.EXEMPT)
    assert (d.metadata, d.late, d.events, d.sampled) == (ThrottleMetadata(), False, (), False)


def test_stats_start_at_zero():
    assert Stats().total == 0 and Stats(total=3).total == 3
