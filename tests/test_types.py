"""EpisodeRecord: the one record of an episode (validation, compute tokens, rows)."""

import json

import pytest

from mrt_env.errors import ConfigError, DataFormatError
from mrt_env.types import EpisodeRecord


def record(**changes):
    fields = {
        "problem_id": "p",
        "blocks": ["x\n", "y\n"],
        "success_probs": [0.1, 0.4, 0.9],
        "prefix_tokens": [0, 2, 5],
        "correct": True,
        "outcome": "committed",
        "answer": "4",
        "hidden_tokens": [3, 1],
    }
    return EpisodeRecord(**{**fields, **changes})


def test_sequences_become_tuples_and_compute_adds_the_hidden_tokens():
    r = record()
    assert r.blocks == ("x\n", "y\n") and r.prefix_tokens == (0, 2, 5)
    assert r.compute_tokens == (0, 2 + 3, 5 + 3 + 1)
    assert record(hidden_tokens=()).compute_tokens == (0, 2, 5)  # none off the transcript
    assert hash(r) == hash(record())  # a value: hashable, equal when the fields are


def test_rows_round_trip_through_json_and_ignore_other_keys():
    r = record(forced_answers=["4", None], forced_correct=[True, False])
    row = json.loads(json.dumps({"env": "E", "seed": 0, **r.to_row()}))
    assert EpisodeRecord.from_row(row) == r
    plain = record().to_row()
    assert "forced_answers" not in plain and plain["answer"] == "4"
    assert EpisodeRecord.from_row(plain) == record()
    with pytest.raises(DataFormatError, match=r"needs \['prefix_tokens'\]"):
        EpisodeRecord.from_row({k: v for k, v in plain.items() if k != "prefix_tokens"})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"blocks": [], "success_probs": [0.1], "prefix_tokens": [0], "hidden_tokens": []},
            "at least one block",
        ),
        ({"success_probs": [0.1, 0.4]}, "success_probs must have k \\+ 1 = 3"),
        ({"prefix_tokens": [0, 2]}, "prefix_tokens must have k \\+ 1 = 3"),
        ({"hidden_tokens": [1]}, "hidden_tokens must have k = 2"),
        ({"rewards": [0.5]}, "rewards must have k = 2"),
        ({"forced_correct": [True]}, "forced_correct must have k = 2"),
        ({"success_probs": [0.1, 1.2, 0.9]}, r"must lie in \[0, 1\]"),
    ],
)
def test_inconsistent_records_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        record(**changes)
