"""Golden values of the answer-accuracy matcher (vrag_env.answer_accuracy), near misses included."""

from __future__ import annotations

from decimal import Decimal

import pytest

from vrag_env.answer_accuracy import number_mentions, parse_numeric_answer
from vrag_env.rewards import REWARD_PRESETS, EpisodeOutcome, accuracy, anls

# (gold, prediction, expected accuracy, why)
NEAR_MISSES = [
    ("-1.1", "1.1", 0.0, "the sign is the answer"),
    ("-1.1", "\u22121.1", 1.0, "Unicode minus"),
    ("-1.1", "(1.1)", 1.0, "accounting negative"),
    ("(1.1)", "-1.1", 1.0, "accounting negative gold"),
    ("-1.1", "+1.1", 0.0, "explicit plus"),
    ("1234", "1,234", 1.0, "thousands separator"),
    ("1,234", "1234", 1.0, "thousands separator in the gold"),
    ("1,234", "1.234", 0.0, "a decimal point is not a separator"),
    ("1.1", "1.10", 1.0, "trailing zero"),
    ("1.10", "1.1", 1.0, "trailing zero in the gold"),
    ("1.1", "1.13", 0.0, "more digits that differ"),
    ("1.13", "1.1", 0.0, "fewer digits: no rounding"),
    ("12%", "12%", 1.0, "same percent"),
    ("12%", "12 percent", 1.0, "percent word"),
    ("12%", "12", 1.0, "unit left to the question"),
    ("12%", "0.12", 0.0, "a fraction is another number"),
    ("12%", "13%", 0.0, "off by one"),
    ("$3.2 million", "3.2", 1.0, "scale left to the question"),
    ("$3.2 million", "$3.2 million", 1.0, "verbatim"),
    ("$3.2 million", "3.2 billion", 0.0, "another scale"),
    ("$3.2 million", "\u20ac3.2 million", 0.0, "another currency"),
    ("$3.2 million", "USD 3,200,000", 1.0, "written out"),
    ("3.2 million", "3.2m", 1.0, "scale abbreviation"),
    ("3.2 million", "3.2 mn", 1.0, "scale abbreviation"),
    ("3.2bn", "3.2 billion", 1.0, "scale abbreviation in the gold"),
    ("134 million outbound trips", "134", 1.0, "bare digits of a scaled gold"),
    ("134", "134 million outbound trips", 1.0, "scaled prediction of a bare gold"),
    (
        "134 million",
        "China is forecast to make 134 million outbound trips in 2020.",
        1.0,
        "sentence",
    ),
    (
        "134 million",
        "China is forecast to make 135 million outbound trips in 2020.",
        0.0,
        "sentence",
    ),
    ("-1.1", "It fell by -1.1 percentage points between 2020 and 2021.", 1.0, "years ignored"),
    ("-1.1", "1.1 or -1.1", 0.0, "two guesses"),
    ("-1.1 pp", "-1.1 pp or 1.1 pp", 0.0, "two guesses with units"),
    ("-1.1 pp", "1.1 or -1.1 pp", 0.0, "hedge marked by 'or'"),
    ("4.5", "revenue rose 4.5 to 12.3", 0.0, "two numbers, gold without a qualifier"),
    ("4.5%", "margin rose 4.5% on sales of 12.3", 1.0, "the qualified number is the answer"),
    ("2020", "2020", 1.0, "year"),
    ("2020", "in 2020", 1.0, "year in a phrase"),
    ("2020", "2019 or 2020", 0.0, "two years"),
    ("2020", "FY2020", 0.0, "a number glued to letters is not a number"),
    ("12", "12 March 2021", 1.0, "a date's year does not compete with a day count"),
    ("2021-03-31", "31 March 2021", 0.0, "dates are text"),
    ("2021-03-31", "2021-03-31", 1.0, "dates are text"),
    ("Deloitte", "deloitte", 1.0, "case"),
    ("Aurora Group", "the aurora group!", 1.0, "articles and punctuation"),
    ("Deloitte", "The auditor is Deloitte.", 1.0, "a sentence that states the phrase"),
    ("Deloitte", "KPMG, Deloitte or EY", 0.0, "a list of guesses"),
    ("Deloitte", "Deloittes", 0.0, "whole words only"),
    ("\uff11\uff12\uff13", "123", 1.0, "NFKC full-width digits"),
]


@pytest.mark.parametrize(("gold", "prediction", "expected", "why"), NEAR_MISSES)
def test_near_miss_table(gold: str, prediction: str, expected: float, why: str) -> None:
    assert accuracy(prediction, [gold]) == expected, why


def test_anls_credits_the_sign_error_that_accuracy_refuses() -> None:
    assert anls("1.1", ["-1.1"]) == pytest.approx(0.75)
    assert accuracy("1.1", ["-1.1"]) == 0.0


def test_best_gold_counts_and_none_scores_zero() -> None:
    golds = ["-1.1", "-1.1 percentage points", "-1.1 pp"]
    assert accuracy("-1.1 pp", golds) == 1.0
    assert accuracy(None, golds) == 0.0
    assert accuracy("", golds) == 0.0
    assert accuracy("-1.1", "-1.1") == 1.0  # a bare string is one gold, not characters


def test_parse_numeric_answer() -> None:
    m = parse_numeric_answer("$3.2 million")
    assert m is not None and m.value == Decimal("3.2E+6") and m.currency == "usd" and m.scale == 6
    p = parse_numeric_answer("-1.1 percentage points")
    assert p is not None and p.digits == Decimal("-1.1") and p.unit == "pp"
    assert parse_numeric_answer("March 2021") is None
    assert parse_numeric_answer("5 staff and 3 contractors") is None


def test_number_mentions_read_a_sentence() -> None:
    values = [m.value for m in number_mentions("Sales were -12.5 bn, 4% less than 2019's $1,234.")]
    assert values == [Decimal("-12.5E+9"), Decimal(4), Decimal(2019), Decimal(1234)]


def test_default_reward_uses_accuracy() -> None:
    def outcome(prediction: str) -> EpisodeOutcome:
        return EpisodeOutcome(
            question="Change in margin?",
            prediction=prediction,
            answers=("-1.1",),
            retrieved=("p1",),
            reference_pages=("p1",),
            num_searches=1,
            num_crops=0,
            invalid_actions=0,
            num_actions=2,
            answered=True,
        )

    for preset in ("default", "vrag-rl-offline"):
        config = REWARD_PRESETS[preset]
        wrong, right = config.score(outcome("1.1")), config.score(outcome("-1.1"))
        assert wrong["answer"] == 0.0 and wrong["anls"] == pytest.approx(0.75)
        assert right["answer"] == 1.0 and right["accuracy"] == 1.0
        assert right["reward"] - wrong["reward"] == pytest.approx(0.7)
    assert REWARD_PRESETS["anls"].score(outcome("1.1"))["answer"] == pytest.approx(0.75)
