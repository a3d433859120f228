"""The text the tiny Qwen-VL tokenizer is trained on: chat-formatted tool-calling turns.

Deterministic strings shaped like the env's prompts, tool calls, tool responses and answers, so the
tiny BPE vocabulary covers what SFT and GRPO tests feed it.
"""

from __future__ import annotations

import json
import random

_QUESTION_WORDS = ("What", "Which", "Who", "When", "Where", "How", "Why", "In which", "How many")
_TOPICS = (
    "revenue", "net profit", "operating margin", "total sales", "number of employees",
    "growth rate", "market share", "average price", "budget", "population", "survey response",
    "customer count",
    "energy use", "unit cost", "return rate", "headcount", "deadline", "signature date", "address",
    "phone number", "invoice total", "tax rate", "score", "temperature", "share of women",
)  # fmt: skip
_ENTITIES = (
    "Aurora", "Borealis", "Cobalt", "Delta Labs", "Evergreen", "Fjord Energy", "Granite", "Helix",
    "Ion Systems", "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Orion", "Polaris",
)  # fmt: skip
_DOCS = (
    "annual report", "slide deck", "bar chart", "line chart", "table", "infographic", "form",
    "invoice", "survey", "figure", "page", "section", "footnote", "appendix", "summary",
)  # fmt: skip
_PERIODS = ("2019", "2020", "2021", "2022", "2023", "Q1", "Q2", "Q3", "Q4", "March", "June")
_THOUGHTS = (
    "I need to find the page that mentions {topic} for {entity}.",
    "The page shows a {doc}, but the numbers are too small to read.",
    "I should zoom into the {doc} to read the value.",
    "The {doc} lists the {topic} for {period}; the answer is there.",
    "This page is not relevant. Let me search again with a better query.",
    "The crop shows the value clearly.",
    "I have enough information to answer.",
)
_FEEDBACK = (
    "Retrieved page {page} of {entity} {doc}.",
    "Cropped region [{x1}, {y1}, {x2}, {y2}] of the current page.",
    "ActionParseError: expected one of <search>query</search>, <bbox>[x1, y1, x2, y2]</bbox> or "
    "<answer>text</answer>",
    "IllegalAction: no page to crop yet; search first.",
    "No more pages match this query.",
    "Answer submitted.",
)
_TOOL_PROMPT = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    "{tools}\n</tools>\n\nFor each function call, return a json object with function name and "
    'arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{{"name": '
    '<function-name>, "arguments": <args-json-object>}}\n</tool_call>'
)
_TOOL_SCHEMAS = (
    {
        "name": "search",
        "description": "Retrieve the best matching page image for a query.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "The search query."}},
            "required": ["query"],
        },
    },
    {
        "name": "crop",
        "description": "Zoom into a region of the current page, as fractions 0..1 of the view.",
        "parameters": {
            "type": "object",
            "properties": {
                "box": {
                    "type": "array",
                    "items": {"type": "number"},
                    "description": "The region [x1, y1, x2, y2].",
                }
            },
            "required": ["box"],
        },
    },
    {
        "name": "answer",
        "description": "Give the final answer and end the episode.",
        "parameters": {
            "type": "object",
            "properties": {"answer": {"type": "string", "description": "The answer."}},
            "required": ["answer"],
        },
    },
)
_INSTRUCTIONS = (
    "Answer the question about the document pages. You can search for a page with "
    "<search>query</search>, zoom into a region of the image you see now with "
    "<bbox>[x1, y1, x2, y2]</bbox> in pixel coordinates, and give the final answer with "
    "<answer>text</answer>. Think step by step inside <think> </think> first.",
    "Use exactly one action per turn. Coordinates are integers; fractions are between 0 and 1.",
)


def _number(rng: random.Random) -> str:
    """Return a random number in one of the formats documents use."""
    kind = rng.randrange(6)
    if kind == 0:
        return str(rng.randrange(0, 1000))
    if kind == 1:
        return f"{rng.uniform(0, 100):.1f}%"
    if kind == 2:
        return f"${rng.randrange(1, 100)},{rng.randrange(0, 1000):03d}.{rng.randrange(10)}"
    if kind == 3:
        return f"{rng.uniform(0, 1):.2f}"
    if kind == 4:
        return str(rng.randrange(1990, 2030))
    return f"{rng.randrange(1, 10000):,}"


def tokenizer_training_corpus(n: int = 400, seed: int = 1234) -> list[str]:
    """Return the deterministic in-code strings the tiny BPE tokenizer is trained on.

    They cover the ``vrag`` dialect (``<think>``, ``<search>``, ``<bbox>``, ``<answer>``), the
    ``tool`` dialect (JSON tool calls inside ``<tool_call>``), the tool-schema prompt the chat
    template renders, English questions about documents, numbers and environment feedback.

    Args:
        n: Number of generated samples (the fixed prompt strings come on top).
        seed: Seed of the generator (fixed so that every build gets the same vocabulary).

    Returns:
        The training strings.
    """
    rng = random.Random(seed)
    tools = "\n".join(json.dumps({"type": "function", "function": s}) for s in _TOOL_SCHEMAS)
    corpus = [_TOOL_PROMPT.format(tools=tools), *_INSTRUCTIONS, *_FEEDBACK]
    corpus += [f"{d} {t} {p}" for d in _DOCS for t in _TOPICS[:6] for p in _PERIODS[:2]]
    corpus += [" ".join(str(i) for i in range(k, k + 20)) for k in range(0, 1000, 20)]
    for _ in range(n):
        slots = {
            "topic": rng.choice(_TOPICS),
            "entity": rng.choice(_ENTITIES),
            "doc": rng.choice(_DOCS),
            "period": rng.choice(_PERIODS),
            "page": rng.randrange(1, 40),
        }
        x1, y1 = rng.randrange(0, 400), rng.randrange(0, 400)
        box = [x1, y1, x1 + rng.randrange(20, 400), y1 + rng.randrange(20, 400)]
        fbox = sorted(round(rng.random(), 2) for _ in range(2)) + sorted(
            round(rng.random(), 2) for _ in range(2)
        )
        fbox = [fbox[0], fbox[2], fbox[1], fbox[3]]
        question = (
            f"{rng.choice(_QUESTION_WORDS)} {rng.choice(('is', 'was', 'are', 'did'))} the "
            f"{slots['topic']} of {slots['entity']} in {slots['period']}?"
        )
        query = f"{slots['entity']} {slots['doc']} {slots['topic']} {slots['period']}"
        answer = _number(rng) if rng.random() < 0.7 else rng.choice(_ENTITIES)
        thought = rng.choice(_THOUGHTS).format(**slots)
        kind = rng.randrange(8)
        if kind == 0:
            corpus.append(question)
        elif kind == 1:
            corpus.append(f"<think>{thought}</think>\n<search>{query}</search>")
        elif kind == 2:
            corpus.append(f"<think>{thought}</think>\n<bbox>{json.dumps(box)}</bbox>")
        elif kind == 3:
            corpus.append(f"<think>{thought}</think>\n<answer>{answer}</answer>")
        elif kind == 4:
            call = {"name": "search", "arguments": {"query": query}}
            corpus.append(f"<tool_call>\n{json.dumps(call)}\n</tool_call>")
        elif kind == 5:
            call = {"name": "crop", "arguments": {"box": fbox}}
            corpus.append(f"<tool_call>\n{json.dumps(call)}\n</tool_call>")
        elif kind == 6:
            call = {"name": "answer", "arguments": {"answer": answer}}
            corpus.append(f"<tool_call>\n{json.dumps(call)}\n</tool_call>")
        else:
            feedback = rng.choice(_FEEDBACK).format(
                **slots, x1=box[0], y1=box[1], x2=box[2], y2=box[3]
            )
            corpus.append(f"<tool_response>\n{feedback}\n</tool_response>")
    return corpus
