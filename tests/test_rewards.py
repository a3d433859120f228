"""Golden-value tests of the reward terms and their combination (vrag_env.rewards)."""

from __future__ import annotations

import json
import math
import random
import time

import pytest

from vrag_env.judge import JudgeConfig
from vrag_env.rewards import (
    ANSWER_METRICS,
    REWARD_PRESETS,
    EpisodeOutcome,
    RewardConfig,
    anls,
    exact_match,
    format_score,
    get_reward_config,
    levenshtein,
    ndcg,
    normalize_answer,
    token_f1,
)

LOG2_3 = math.log2(3)


def _dp_levenshtein(a: str, b: str) -> int:
    """Textbook O(len(a) * len(b)) dynamic programme, the reference for the bit-parallel version."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i]
        for j, cb in enumerate(b, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def outcome(**overrides) -> EpisodeOutcome:
    fields = {
        "question": "What was Aurora's revenue in 2022?",
        "prediction": "12.4 million",
        "answers": ("12.4 million",),
        "retrieved": ("aurora_3", "aurora_1"),
        "reference_pages": ("aurora_1",),
        "num_searches": 2,
        "num_crops": 1,
        "invalid_actions": 1,
        "num_actions": 5,
        "answered": True,
    }
    fields.update(overrides)
    return EpisodeOutcome(**fields)


# --------------------------------------------------------------------------- normalize_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Aurora Co.", "aurora co"),  # lowercase, article and punctuation dropped
        ("  an   apple\tpie\n", "apple pie"),  # whitespace collapsed, "an" dropped
        ("U.S.", "us"),  # punctuation deleted, not replaced by a space (SQuAD)
        ("1,234", "1234"),  # thousands separator vanishes
        ("1,234,567.89", "1234567.89"),
        ("12.4", "12.4"),  # decimal point kept between digits
        ("12.4.", "12.4"),  # a sentence-final full stop is not a decimal point
        ("-3.5%", "-3.5"),  # leading minus kept, percent sign dropped
        ("(\u22123.5)", "-3.5"),  # Unicode minus sign, after a bracket
        ("2020-2021", "20202021"),  # a hyphen between digits is not a minus sign
        ("state-of-the-art", "stateoftheart"),
        ("$12", "12"),
        ("\uff11\uff12", "12"),  # full-width digits, NFKC
        ("theory", "theory"),  # articles are whole tokens only
        ("", ""),
        ("the a an", ""),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


# --------------------------------------------------------------------------- levenshtein


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("", "abc", 3),
        ("abc", "", 3),
        ("kitten", "sitting", 3),  # k->s, e->i, +g
        ("flaw", "lawn", 2),  # -f, +n
        ("aurora", "aurora", 0),
        ("Auror", "Aurora", 1),
        ("abc", "cba", 2),
    ],
)
def test_levenshtein_known_values(a, b, distance):
    assert levenshtein(a, b) == distance
    assert levenshtein(b, a) == distance


def test_levenshtein_matches_dynamic_programme():
    rng = random.Random(0)
    alphabets = ["ab", "abcde", "aurora borealis 0123456789", "\u00e9\u4e2d\U0001f600x"]
    for _ in range(300):
        alphabet = rng.choice(alphabets)
        # Lengths past 64 exercise bit vectors wider than one machine word.
        a = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 150)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 150)))
        assert levenshtein(a, b) == _dp_levenshtein(a, b), (a, b)


# --------------------------------------------------------------------------- anls


def test_anls_golden_values():
    # Identical after lowercasing: NL = 0.
    assert anls("Aurora", ["aurora"]) == 1.0
    # Surrounding and repeated whitespace is ignored (DocVQA preprocessing).
    assert anls("  AURORA ", ["aurora"]) == 1.0
    assert anls("new   york", ["New York"]) == 1.0
    # One deletion in 6 characters: NL = 1/6, score 1 - 1/6.
    assert anls("Auror", ["Aurora"]) == pytest.approx(1 - 1 / 6)
    # One substitution in 3: NL = 1/3 < 0.5, score 2/3.
    assert anls("abc", ["abd"]) == pytest.approx(2 / 3)
    # Best gold wins: "Auroras" is one insertion from "Aurora" over 7 characters.
    assert anls("Aurora", ["Borealis", "Auroras"]) == pytest.approx(1 - 1 / 7)
    # A bare string is a single gold answer.
    assert anls("Aurora", "aurora") == 1.0


def test_anls_threshold():
    # NL = 1/2 is not < 0.5, so no credit (DocVQA's rule is strict).
    assert anls("ab", ["ac"]) == 0.0
    assert anls("ab", ["ac"], threshold=0.6) == pytest.approx(0.5)
    # "Borealis" vs "Aurora": distance 7 over 8 characters, far above the threshold.
    assert anls("Borealis", ["Aurora"]) == 0.0
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match="threshold"):
            anls("a", ["a"], threshold=bad)


def test_anls_empty_cases():
    assert anls("Aurora", []) == 0.0
    assert anls("", ["Aurora"]) == 0.0
    assert anls("", [""]) == 1.0
    assert anls("  ", [""]) == 1.0


def test_anls_long_predictions_are_fast():
    start = time.perf_counter()
    # Length difference alone rules these out: no distance is computed.
    assert anls("x" * 200_000, ["Aurora"]) == 0.0
    # Long and similar strings take the bit-parallel path: one substitution in 3000 characters.
    gold = "aurora borealis " * 200
    near = gold[:1000] + "X" + gold[1001:]
    assert anls(near, [gold]) == pytest.approx(1 - 1 / len(gold))
    assert time.perf_counter() - start < 2.0


# --------------------------------------------------------------------------- exact match and F1


@pytest.mark.parametrize(
    ("prediction", "golds", "expected"),
    [
        ("The Aurora Co.", ["aurora co"], 1.0),
        ("1,234", ["1234"], 1.0),
        ("$12.4 million", ["12.4 Million"], 1.0),
        ("12.4", ["124"], 0.0),  # the decimal point matters
        ("-5", ["5"], 0.0),  # so does the sign
        ("Aurora", ["Borealis", "aurora!"], 1.0),  # any gold
        ("Aurora", [], 0.0),
        ("Aurora", "aurora", 1.0),  # bare string gold
    ],
)
def test_exact_match(prediction, golds, expected):
    assert exact_match(prediction, golds) == expected


def test_token_f1_golden_values():
    # pred tokens [revenue, of, 12.4, million], gold [12.4, million]: common 2, P = 2/4, R = 2/2,
    # F1 = 2 * (1/2 * 1) / (1/2 + 1) = 2/3.
    assert token_f1("Revenue of 12.4 million", ["12.4 million"]) == pytest.approx(2 / 3)
    # Multiplicity: pred [red, red, blue], gold [red, blue, green]: common min(2,1) + 1 = 2,
    # P = R = 2/3, F1 = 2/3.
    assert token_f1("red red blue", ["red blue green"]) == pytest.approx(2 / 3)
    # Best gold: the second has P = 1, R = 1/2, F1 = 2/3; the first has no overlap.
    assert token_f1("aurora", ["borealis", "aurora co"]) == pytest.approx(2 / 3)
    assert token_f1("The Aurora Co.", ["aurora co"]) == 1.0
    assert token_f1("borealis", ["aurora"]) == 0.0


def test_token_f1_empty_cases():
    assert token_f1("aurora", []) == 0.0
    assert token_f1("", [""]) == 1.0  # both empty: SQuAD 2.0 convention
    assert token_f1("the", ["an"]) == 1.0  # both normalise to nothing
    assert token_f1("", ["aurora"]) == 0.0
    assert token_f1("aurora", ["!!"]) == 0.0


# --------------------------------------------------------------------------- ndcg


def test_ndcg_golden_values():
    # Relevant page at rank 2: DCG = 1/log2(3), IDCG = 1.
    assert ndcg(["x", "a"], {"a"}) == pytest.approx(1 / LOG2_3)
    assert ndcg(["a", "x"], {"a"}) == 1.0
    # Both relevant pages found at ranks 1 and 3: DCG = 1 + 1/log2(4) = 1.5,
    # IDCG = 1 + 1/log2(3).
    assert ndcg(["a", "x", "b"], ["a", "b"]) == pytest.approx(1.5 / (1 + 1 / LOG2_3))
    # One of two relevant pages found, at rank 1: DCG = 1, IDCG = 1 + 1/log2(3).
    assert ndcg(["a"], ["a", "b"]) == pytest.approx(1 / (1 + 1 / LOG2_3))


def test_ndcg_duplicates():
    # A page retrieved twice counts once: DCG = 1, IDCG = 1.
    assert ndcg(["a", "a"], ["a"]) == 1.0
    # ... but the repeat takes rank 2 from "b": DCG = 1 + 1/log2(4) = 1.5.
    assert ndcg(["a", "a", "b"], ["a", "b"]) == pytest.approx(1.5 / (1 + 1 / LOG2_3))
    # Duplicate gold ids are one relevant page.
    assert ndcg(["a"], ["a", "a"]) == 1.0


def test_ndcg_empty_cases():
    assert ndcg([], ["a"]) == 0.0
    assert ndcg(["a"], []) == 0.0
    assert ndcg([], []) == 0.0
    assert ndcg(["x", "y"], ["a"]) == 0.0


def test_ndcg_at_k():
    assert ndcg(["x", "a"], {"a"}, k=1) == 0.0  # "a" is past the cutoff
    assert ndcg(["x", "a"], {"a"}, k=2) == pytest.approx(1 / LOG2_3)
    # Three relevant pages, k = 2: IDCG over min(3, 2) = 2 ranks, and the top 2 are ideal.
    assert ndcg(["a", "b", "c"], ["a", "b", "c"], k=2) == 1.0
    # Without a cutoff the missing relevant page "c" costs: DCG = 1 + 1/log2(3),
    # IDCG = 1 + 1/log2(3) + 1/log2(4) = 1 + 1/log2(3) + 0.5.
    assert ndcg(["a", "b"], ["a", "b", "c"]) == pytest.approx((1 + 1 / LOG2_3) / (1.5 + 1 / LOG2_3))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="k must be"):
            ndcg(["a"], ["a"], k=bad)


# --------------------------------------------------------------------------- format


def test_format_score():
    assert format_score(3, 4, answered=True) == 0.75
    assert format_score(4, 4, answered=True) == 1.0
    assert format_score(3, 3, answered=False) == 0.0
    assert format_score(0, 0, answered=True) == 0.0
    with pytest.raises(ValueError, match="valid_actions"):
        format_score(5, 4, answered=True)
    with pytest.raises(ValueError, match="valid_actions"):
        format_score(-1, 4, answered=True)


# --------------------------------------------------------------------------- EpisodeOutcome


def test_episode_outcome_validation_and_json():
    o = outcome(answers=["a", "b"], retrieved=["p_1"])
    assert o.answers == ("a", "b") and o.retrieved == ("p_1",)
    assert o.valid_actions == 4
    assert json.loads(json.dumps(o.to_dict()))["answers"] == ["a", "b"]
    with pytest.raises(ValueError, match="prediction"):
        outcome(prediction=None, answered=True)
    with pytest.raises(ValueError, match="invalid_actions"):
        outcome(invalid_actions=6, num_actions=5)
    with pytest.raises(ValueError, match="num_searches"):
        outcome(num_searches=-1)


# --------------------------------------------------------------------------- RewardConfig.score


def test_score_breakdown_default():
    s = RewardConfig().score(outcome())
    assert list(s) == [
        "accuracy",
        "anls",
        "exact_match",
        "f1",
        "ndcg",
        "format",
        "answer",
        "reward",
    ]
    assert all(type(v) is float for v in s.values())
    assert s["anls"] == s["exact_match"] == s["f1"] == s["answer"] == 1.0
    assert s["ndcg"] == pytest.approx(1 / LOG2_3)  # gold page at rank 2
    assert s["format"] == pytest.approx(4 / 5)  # one invalid action in five
    # 0.7 * 1 + 0.2 / log2(3) + 0.1 * 0.8
    assert s["reward"] == pytest.approx(0.7 + 0.2 / LOG2_3 + 0.08)
    json.dumps(s)


def test_score_chooses_the_answer_metric():
    o = outcome(prediction="revenue of 12.4 million")  # F1 2/3, EM 0
    for metric, expected in [("exact_match", 0.0), ("f1", 2 / 3)]:
        s = RewardConfig(answer_metric=metric).score(o)
        assert s["answer"] == pytest.approx(expected)
        assert s["reward"] == pytest.approx(0.7 * expected + 0.2 / LOG2_3 + 0.08)
    # ANLS: "revenue of 12.4 million" vs "12.4 million" is 11 insertions over 23 characters.
    s = RewardConfig(answer_metric="anls").score(o)
    assert s["answer"] == pytest.approx(1 - 11 / 23)
    # NL = 11/23 ~ 0.48 is not below a stricter threshold of 0.4.
    assert RewardConfig(anls_threshold=0.4).score(o)["anls"] == 0.0


def test_score_unanswered_episode():
    s = RewardConfig().score(outcome(prediction=None, answered=False))
    assert s["anls"] == s["exact_match"] == s["f1"] == s["answer"] == s["format"] == 0.0
    # Without the gate, retrieval still counts (the env pays terminal rewards only on answers).
    assert s["reward"] == pytest.approx(0.2 / LOG2_3)


def test_score_gate_requires_search_and_answer():
    gated = get_reward_config("vrag-rl-offline")
    assert gated.score(outcome())["reward"] == pytest.approx(0.7 + 0.2 / LOG2_3 + 0.08)
    # An answer without any search earns nothing, though the answer itself is right.
    s = gated.score(outcome(num_searches=0, retrieved=()))
    assert s["answer"] == 1.0 and s["reward"] == 0.0
    # A search without an answer earns nothing either.
    assert gated.score(outcome(prediction=None, answered=False))["reward"] == 0.0


def test_pure_anls_preset():
    s = get_reward_config("anls").score(outcome(prediction="Auror", answers=("Aurora",)))
    assert s["reward"] == pytest.approx(1 - 1 / 6)


def test_step_penalty():
    assert RewardConfig().step_penalty() == -0.1
    assert RewardConfig().step_penalty(invalid=False) == 0.0
    assert get_reward_config("anls").step_penalty() == 0.0


# --------------------------------------------------------------------------- presets and config


def test_preset_values():
    assert set(REWARD_PRESETS) >= {"default", "vrag-rl", "vrag-rl-offline", "anls"}
    d = REWARD_PRESETS["default"]
    assert (d.answer_metric, d.answer_weight, d.retrieval_weight, d.format_weight) == (
        "accuracy",
        0.7,
        0.2,
        0.1,
    )
    assert d.invalid_action_penalty == 0.1 and not d.require_search_and_answer and d.judge is None
    v = REWARD_PRESETS["vrag-rl"]
    assert (v.answer_metric, v.answer_weight, v.retrieval_weight, v.format_weight) == (
        "judge",
        0.7,
        0.2,
        0.1,
    )
    assert v.require_search_and_answer and isinstance(v.judge, JudgeConfig)
    assert v.judge.base_url is None and v.judge.model is None  # read from the environment
    o = REWARD_PRESETS["vrag-rl-offline"]
    assert (o.answer_metric, o.answer_weight, o.retrieval_weight, o.format_weight) == (
        "accuracy",
        0.7,
        0.2,
        0.1,
    )
    assert o.require_search_and_answer and o.judge is None
    a = REWARD_PRESETS["anls"]
    assert (a.answer_metric, a.answer_weight, a.retrieval_weight, a.format_weight) == (
        "anls",
        1.0,
        0.0,
        0.0,
    )
    assert a.invalid_action_penalty == 0.0


@pytest.mark.parametrize("name", sorted(REWARD_PRESETS))
def test_presets_round_trip_through_json(name):
    config = REWARD_PRESETS[name]
    data = json.loads(json.dumps(config.to_dict()))
    assert RewardConfig.from_dict(data) == config
    assert get_reward_config(data) == config


def test_get_reward_config():
    assert get_reward_config("default") is REWARD_PRESETS["default"]
    config = RewardConfig(answer_metric="f1")
    assert get_reward_config(config) is config
    over = get_reward_config({"preset": "vrag-rl-offline", "answer_metric": "exact_match"})
    assert over.answer_metric == "exact_match" and over.require_search_and_answer
    with pytest.raises(ValueError, match=r"unknown reward preset 'nope'.*'vrag-rl-offline'"):
        get_reward_config("nope")
    with pytest.raises(TypeError, match="preset name"):
        get_reward_config(3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"answer_metric": "bleu"},
            r"answer_metric must be one of \['accuracy', 'anls', 'exact_match'",
        ),
        ({"answer_metric": "judge"}, r"answer_metric='judge' needs judge=JudgeConfig"),
        ({"answer_weight": -0.1}, r"answer_weight must be a finite number >= 0.0, got -0.1"),
        ({"retrieval_weight": float("nan")}, r"retrieval_weight must be a finite number"),
        ({"format_weight": "0.1"}, r"format_weight must be a finite number"),
        ({"invalid_action_penalty": -1}, r"invalid_action_penalty must be a finite number"),
        ({"anls_threshold": 0}, r"anls_threshold must be in \(0, 1\], got 0"),
        ({"anls_threshold": 1.5}, r"anls_threshold must be in \(0, 1\]"),
        ({"require_search_and_answer": "yes"}, r"require_search_and_answer must be True or False"),
        ({"judge": "http://localhost"}, r"judge must be None, a JudgeConfig or its dict"),
    ],
)
def test_invalid_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RewardConfig(**kwargs)


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match=r"unknown RewardConfig field\(s\) \['weight'\]"):
        RewardConfig.from_dict({"weight": 1.0})


def test_judge_config_as_dict_and_secret_left_out():
    config = RewardConfig(
        answer_metric="judge",
        judge={"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "MY_KEY"},
    )
    assert isinstance(config.judge, JudgeConfig)
    secret = RewardConfig(
        answer_metric="judge",
        judge=JudgeConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key="sk-secret"),
    )
    assert "sk-secret" not in json.dumps(secret.to_dict())
    assert "sk-secret" not in repr(secret)


def test_answer_metrics_constant():
    assert ANSWER_METRICS == ("accuracy", "anls", "exact_match", "f1", "judge")
