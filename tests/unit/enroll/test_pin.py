"""PIN generation: right length and alphabet, cryptographic source, never a guessable PIN."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.enroll.pin import effective_pin_length, generate_pin, is_trivial


@pytest.mark.parametrize("pin", ["000000", "111111", "123456", "987654", "abcdef", "121212", "123123",
                                 "12341234", "1122", "11112222"])
def test_guessable_pins_are_trivial(pin: str) -> None:
    assert is_trivial(pin, "0123456789abcdef")


@pytest.mark.parametrize("pin", ["390482", "70315298", "k3x9q2", "5091"])
def test_ordinary_pins_are_not_trivial(pin: str) -> None:
    assert not is_trivial(pin, "0123456789abcdefghijklmnopqrstuvwxyz")


@settings(max_examples=200)
@given(length=st.integers(4, 16), alphabet=st.sampled_from(["0123456789", "ABCDEFGHJKLMNPQRSTUVWXYZ23456789",
                                                             "01", "abc"]))
def test_generated_pins_fit_the_policy(length: int, alphabet: str) -> None:
    pin = generate_pin(length, alphabet)
    assert len(pin) == length
    assert set(pin) <= set(alphabet)
    assert not is_trivial(pin, alphabet)


def test_pins_differ_between_draws() -> None:
    assert len({generate_pin(8, "0123456789") for _ in range(200)}) > 190


def test_length_is_raised_to_every_minimum_and_capped_by_the_key() -> None:
    assert effective_pin_length(6, policy_minimum=8, key_minimum=4) == 8
    assert effective_pin_length(6, policy_minimum=0, key_minimum=7) == 7
    assert effective_pin_length(70, key_maximum=63) == 63


def test_impossible_requests_are_refused() -> None:
    with pytest.raises(ValueError):
        generate_pin(3, "0123456789")
    with pytest.raises(ValueError):
        generate_pin(8, "1")
