"""Token-budget batching: every index exactly once, budgets respected, longest first."""

import pytest

from rewardlab.engine.batching import padding_fraction, token_budget_batches


def test_every_index_once_and_budget_respected():
    lengths = [5, 100, 30, 30, 7, 64, 1, 99, 12, 50]
    batches = token_budget_batches(lengths, batch_tokens=128)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths)))
    for b in batches:
        padded = max(lengths[i] for i in b) * len(b)
        assert padded <= 128 or len(b) == 1
    # Longest first: the first batch holds the longest item.
    assert 1 in batches[0]


def test_over_budget_item_gets_its_own_batch_not_dropped():
    batches = token_budget_batches([500, 3, 3], batch_tokens=64)
    assert batches[0] == [0]
    assert sorted(i for b in batches for i in b) == [0, 1, 2]


def test_max_batch_size_caps_count():
    batches = token_budget_batches([1] * 10, batch_tokens=10_000, max_batch_size=3)
    assert [len(b) for b in batches] == [3, 3, 3, 1]


def test_padding_fraction_arithmetic():
    # One batch of lengths 4 and 2 padded to 4: 8 positions, 6 real -> 25% padding.
    assert padding_fraction([4, 2], [[0, 1]]) == pytest.approx(0.25)


@pytest.mark.parametrize("bad", [0, -5])
def test_bad_budget_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="batch_tokens must be positive"):
        token_budget_batches([1, 2], batch_tokens=bad)
