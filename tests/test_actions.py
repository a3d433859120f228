import json

import numpy as np
import pytest

from vrag_env.actions import ActionParseError, ActionSet, Answer, Crop, Search

VRAG = ActionSet("vrag")
TOOL = ActionSet("tool")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<search>Aurora revenue 2022</search>", Search("Aurora revenue 2022")),
        ("<think>look</think>\n<search> q </search>", Search("q")),
        ("<bbox>[10, 20, 110, 90]</bbox>", Crop((10.0, 20.0, 110.0, 90.0))),
        ("<region>[10, 20, 110, 90]</region>", Crop((10.0, 20.0, 110.0, 90.0))),
        ("<bbox>10 20 110 90</bbox>", Crop((10.0, 20.0, 110.0, 90.0))),
        ("<answer>1,234.5</answer>", Answer("1,234.5")),
        # generation stops at the first closing tag in VRAG-RL: the first action wins
        ("<answer>a</answer><search>b</search>", Answer("a")),
    ],
)
def test_vrag_dialect_parses(text, expected):
    assert VRAG.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "search", "arguments": {"query": "x y"}}', Search("x y")),
        ('<tool_call>{"name": "answer", "arguments": {"answer": "7"}}</tool_call>', Answer("7")),
        ('{"name": "answer", "arguments": "{\\"text\\": \\"7\\"}"}', Answer("7")),
        (
            '{"name": "crop", "arguments": {"box": [0.1, 0.2, 0.5, 0.6]}}',
            Crop((64.0, 128.0, 320.0, 384.0)),
        ),
        (
            '{"name": "crop", "arguments": {"x1": 0, "y1": 0, "x2": 1, "y2": 1}}',
            Crop((0.0, 0.0, 640.0, 640.0)),
        ),
    ],
)
def test_tool_dialect_parses(text, expected):
    assert TOOL.parse(text) == expected


@pytest.mark.parametrize(
    ("actions", "text", "fragment"),
    [
        (VRAG, "", "empty action"),
        (VRAG, "   ", "empty action"),
        (VRAG, "<search>never closed", "unclosed <search>"),
        (VRAG, "<think>only thinking", "unclosed <think>"),
        (VRAG, "just prose", "no action found"),
        (VRAG, "<bbox>[1, 2, 3]</bbox>", "4 numbers"),
        (VRAG, "<bbox>[NaN, 2, 3, 4]</bbox>", "non-finite"),
        (VRAG, "<bbox>[-5, 2, 30, 40]</bbox>", "negative"),
        (VRAG, "<bbox>[50, 50, 10, 10]</bbox>", "x1 < x2"),
        (VRAG, "<bbox>left half</bbox>", "[x1, y1, x2, y2]"),
        (VRAG, "<answer>  </answer>", "empty answer"),
        (VRAG, "<search>" + "q" * 600 + "</search>", "limit is 512"),
        (VRAG, "x" * 100_000, "limit is 16384"),
        (TOOL, "{not json", "not valid JSON"),
        (TOOL, "[1, 2]", '"name"'),
        (TOOL, '{"name": "fly", "arguments": {}}', "unknown tool"),
        (TOOL, '{"name": "crop", "arguments": {"box": [0.1, 0.1, 1.5, 0.5]}}', "fractions"),
        (TOOL, '{"name": "crop", "arguments": {"box": [0.5, NaN, 0.6, 0.7]}}', "non-finite"),
        (TOOL, '{"name": "search", "arguments": {"query": 3}}', '"query"'),
    ],
)
def test_malformed_actions_raise_parse_error(actions, text, fragment):
    with pytest.raises(ActionParseError) as info:
        actions.parse(text)
    assert fragment in str(info.value)


def test_strict_mode_rejects_extra_text_and_multiple_actions():
    strict = ActionSet("vrag", strict=True)
    assert strict.parse("<think>x</think><search>q</search>") == Search("q")
    with pytest.raises(ActionParseError, match="outside the action"):
        strict.parse("I will search. <search>q</search>")
    with pytest.raises(ActionParseError, match="exactly one"):
        strict.parse("<search>a</search><search>b</search>")


@pytest.mark.parametrize("dialect", ["vrag", "tool"])
def test_format_round_trips(dialect):
    actions = ActionSet(dialect)
    crop = Crop((10.0, 20.0, 300.0, 400.0) if dialect == "vrag" else (64.0, 128.0, 192.0, 256.0))
    for action in (Search("revenue 2021"), Answer("Aurora"), crop):
        assert actions.parse(actions.format(action)) == action


def test_tool_format_rounds_crops_outwards_and_clips():
    """Pixels -> fractions keep the whole region asked for (floor top-left, ceil bottom-right)."""
    text = TOOL.format(Crop((100.0, 33.3, 200.02, 700.0)))
    assert json.loads(text)["arguments"]["box"] == [0.1562, 0.052, 0.3126, 1.0]
    x1, y1, x2, y2 = TOOL.parse(text).box
    assert x1 <= 100.0 and y1 <= 33.3 and x2 >= 200.02 and y2 == 640.0


@pytest.mark.parametrize("dialect", ["vrag", "tool"])
def test_describe_and_examples_are_consistent(dialect):
    actions = ActionSet(dialect)
    text = actions.describe()
    assert "search" in text and "answer" in text
    assert "<|im_start|>" not in text  # the env owns no chat template
    for kind in ("search", "crop", "answer"):
        actions.parse(actions.example_action(kind))


@pytest.mark.parametrize("dialect", ["vrag", "tool"])
def test_sample_is_seeded_and_mixes_valid_and_invalid(dialect):
    actions = ActionSet(dialect)
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    assert [actions.sample(rng_a) for _ in range(20)] == [actions.sample(rng_b) for _ in range(20)]
    rng = np.random.default_rng(0)
    samples = [actions.sample(rng) for _ in range(400)]
    valid = 0
    for s in samples:
        try:
            actions.parse(s)
            valid += 1
        except ActionParseError:
            pass
    assert 0.5 < valid / len(samples) < 0.9


def test_tool_call_after_reasoning_text_parses():
    text = '<think>the table</think>Let me look.\n<tool_call>\n{"name": "search", "arguments": {"query": "q"}}\n</tool_call>'
    assert TOOL.parse(text) == Search("q")
    with pytest.raises(ActionParseError, match="outside the tool call"):
        ActionSet("tool", strict=True).parse(text)
    with pytest.raises(ActionParseError, match="unclosed <tool_call>"):
        TOOL.parse('<tool_call>{"name": "search", "arguments": {"query": "q"}}')
