"""``vrag eval --agent vlm --style vrag-rl`` against a real ``transformers serve`` on 127.0.0.1.

The corpus is built by ``vrag ingest`` (real OCR) from three generated slide images of different
shapes: a 1024x768 slide, a 2000x1125 wide slide and a 1240x1754 portrait page, one question each.
The model is a tiny Qwen2.5-VL whose output layer is fitted (features frozen, see
:mod:`tests.vlm_fitting`) so that greedy decoding follows VRAG-RL's SFT format on exactly the chats
the ``vrag-rl`` style builds for these questions: reasoning, a newline and one tag; a search
first, then a ``<bbox>`` in pixels of the page shown, then a sentence answer. Those chats are
recorded first by driving the same evaluation with a scripted backend.

The fitted checkpoint is served by ``transformers serve`` and the evaluation runs through the
command line. Every request the agent sent is kept: each image in it must have exactly the size
VRAG-RL gives the page, and then the crop of the page, by the reference of VRAG-RL's resize and
crop mapping in ``tests/test_vrag_rl_preset.py`` applied to the source slide images (not by the
code under test). The server's ``usage.prompt_tokens`` must equal the local processor's count for
the same messages, image tokens included, which proves it decoded every image. The portrait
page's wide crop does not fit the env's observation canvas (sized for whole-page views), so the
env shows it shrunk; the image sent must still have VRAG-RL's size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("torchvision")
pytest.importorskip("httpx")

from PIL import Image  # noqa: E402

import vrag_env  # noqa: E402, F401
from agents.vlm import tiny  # noqa: E402
from agents.vlm.chat import Message, build_model_inputs, message_text  # noqa: E402
from benchmarks.runner import EvalSpec  # noqa: E402
from tests.ingest_fixtures import example, text_image, write_rag_json  # noqa: E402
from tests.test_vrag_rl_preset import ref_crop_area, ref_process_image  # noqa: E402
from tests.vlm_fitting import (  # noqa: E402
    ServerProcess,
    decode_image_url,
    decode_openai,
    fit_replies,
    one_thread,  # noqa: F401  # a fixture, used through pytestmark
    record_chats,
    record_exchanges,
)
from vrag_env.cli import main  # noqa: E402

# file name -> (size, text lines); the first line is what the model searches for
SLIDES: dict[str, tuple[tuple[int, int], list[str]]] = {
    "trips.png": ((1024, 768), ["China outbound trips", "134 million trips in 2020"]),
    "hotels.png": ((2000, 1125), ["Hotel occupancy", "Europe 71 percent in 2020"]),
    "freight.png": ((1240, 1754), ["Rail freight volume", "Germany 312 million tonnes"]),
}
# question id -> (question, gold answer, slide, search query, sentence answer)
QUESTIONS: dict[str, tuple[str, str, str, str, str]] = {
    "q_trips": (
        "How many outbound trips will China make in 2020?",
        "134 million",
        "trips.png",
        "outbound trips",
        "China will make 134 million trips.",
    ),
    "q_hotels": (
        "What is the hotel occupancy in Europe?",
        "71 percent",
        "hotels.png",
        "hotel occupancy",
        "Occupancy in Europe is 71 percent.",
    ),
    "q_freight": (
        "How much rail freight does Germany carry?",
        "312 million tonnes",
        "freight.png",
        "rail freight",
        "Germany carries 312 million tonnes.",
    ),
}
BOX = [20, 20, 420, 200]  # the <bbox> the model writes, in pixels of the page image it was shown
PAD = 28  # the vrag-rl preset pads a box by 28 shown pixels (VRAG-RL's validation rollouts)
MAX_NEW_TOKENS = 64
EPISODES, SEED = len(QUESTIONS), 0


def _question_id(messages: Sequence[Message]) -> str:
    first = message_text(messages[0])
    (qid,) = [qid for qid, (question, *_rest) in QUESTIONS.items() if first.endswith(question)]
    return qid


def _reply(question_id: str, turn: int) -> str:
    """VRAG-RL's SFT format: reasoning, a newline, one tag; search, zoom, then a sentence answer."""
    _question, _gold, _slide, query, sentence = QUESTIONS[question_id]
    if turn == 0:
        return f"<think>Find the slide.</think>\n<search>{query}</search>"
    if turn == 1:
        return f"<think>Zoom in.</think>\n<bbox>{json.dumps(BOX)}</bbox>"
    return f"<think>Found it.</think>\n<answer>{sentence}</answer>"


def _policy(messages: Sequence[Message]) -> str:
    """The scripted model: :func:`_reply` for the chat's question and its number of replies so far."""
    return _reply(_question_id(messages), sum(1 for m in messages if m["role"] == "assistant"))


def _as_served(reply: str) -> str:
    """The reply as the agent gets it back from ``transformers serve``, so as it enters the chat.

    The server parses ``<think>`` text out into ``reasoning_content`` and strips the rest of the
    reply; the backend puts the reasoning back inside ``<think>...</think>``, so the newline after
    it is lost. The model still writes it (checked by the completion's token count).
    """
    return reply.replace("</think>\n", "</think>", 1)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def slides(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The source slide images, text large enough for OCR at each size."""
    src = tmp_path_factory.mktemp("vrag_rl_server") / "slides"
    src.mkdir()
    for name, (size, lines) in SLIDES.items():
        text_image(lines, size=size, font_px=max(40, size[0] // 24)).save(src / name)
    return src


@pytest.fixture(scope="module")
def corpus(slides: Path) -> Path:
    """``vrag ingest`` of the slides (OCR) with one test question per slide."""
    queries = [
        {**example(qid, slide, [1], gold), "query": question, "split": "test"}
        for qid, (question, gold, slide, _query, _sentence) in QUESTIONS.items()
    ]
    queries_file = write_rag_json(slides.parent / "rag_dataset.json", queries)
    out = slides.parent / "corpus"
    args = ["ingest", str(slides), "--out", str(out), "--queries", str(queries_file)]
    assert main([*args, "--workers", "1", "--no-progress"]) == 0
    return out


def _spec(corpus: Path) -> EvalSpec:
    """What ``vrag eval --corpus DIR --preset vrag-rl --episodes 3`` runs."""
    env_kwargs = {"split": "test", "corpus": str(corpus), "preset": "vrag-rl"}
    return EvalSpec(env_id="VRAG-v0", env_kwargs=env_kwargs, episodes=EPISODES, seed=SEED)


@pytest.fixture(scope="module")
def fitted_model(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2.5-VL fitted to follow :func:`_policy` on the vrag-rl style's own chats."""
    root = tmp_path_factory.mktemp("vrag_rl_model")
    # 256 wide: the 9 replies are 284 tokens, and 64 features are too few for a linear head to
    # tell them all apart (the fit fails); 256 fits in about 10 s on one core (seeds 0-2).
    base = tiny.build_tiny_vlm(root / "tiny", arch="qwen2_5_vl", seed=0, hidden_size=256)
    options = {"style": "vrag-rl", "max_new_tokens": MAX_NEW_TOKENS}
    chats = record_chats("vlm", _spec(corpus), lambda chat: _as_served(_policy(chat)), **options)
    assert len(chats) == 3 * EPISODES
    return fit_replies(base, chats, [_policy(chat) for chat in chats], root / "fitted")


@pytest.fixture(scope="module")
def server(fitted_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(fitted_model, tmp_path_factory.mktemp("server") / "server.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _images(message: dict[str, Any]) -> list[Image.Image]:
    content = message["content"]
    if not isinstance(content, list):
        return []
    return [decode_image_url(b["image_url"]["url"]) for b in content if b["type"] == "image_url"]


def test_vrag_rl_style_against_transformers_serve(
    server: ServerProcess,
    fitted_model: Path,
    corpus: Path,
    slides: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exchanges = record_exchanges(monkeypatch)
    out = tmp_path / "server.json"
    args = ["eval", "--agent", "vlm", "--style", "vrag-rl", "--base-url", server.base_url]
    args += ["--corpus", str(corpus), "--preset", "vrag-rl", "--split", "test"]
    args += ["--episodes", str(EPISODES), "--seed", str(SEED)]
    args += ["--agent-arg", f"max_new_tokens={MAX_NEW_TOKENS}", "--out", str(out), "--quiet"]
    assert main(args) == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    config = results["metadata"]["agent"]["config"]
    assert config["backend"] == "openai" and config["style"] == "vrag-rl"
    assert config["served_model"] == str(fitted_model)

    # The served model searched, zoomed and answered with a sentence in every episode.
    episodes = results["episodes"]
    assert sorted(e["question_id"] for e in episodes) == sorted(QUESTIONS)
    for episode in episodes:
        *_, slide, _query, sentence = QUESTIONS[episode["question_id"]]
        assert episode["action_kinds"] == ["search", "crop", "answer"]
        assert episode["invalid_actions"] == 0
        assert episode["terminated"] and not episode["truncated"]
        assert episode["prediction"] == sentence
        assert episode["retrieved_pages"] == [f"{Path(slide).stem}_1"]
    # Each sentence states the gold number or phrase: correct by the numeric-aware matcher.
    assert results["summary"]["accuracy"] == 1.0

    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(fitted_model)
    assert len(exchanges) == 3 * EPISODES
    crop_widths: list[int] = []
    for n, episode in enumerate(episodes):
        turns = exchanges[3 * n : 3 * n + 3]
        messages = [body["messages"] for body, _answer in turns]
        assert QUESTIONS[episode["question_id"]][0] in json.dumps(messages[0])
        # The first turn is the prompt alone; each observation turn is one image and nothing else.
        assert [m["role"] for m in messages[0]] == ["user"] and not _images(messages[0][0])
        for chat in messages[1:]:
            assert chat[-1]["role"] == "user"
            assert [b["type"] for b in chat[-1]["content"]] == ["image_url"]
        # The model wrote each scripted reply, newline included, then <|im_end|>.
        scripted = [_reply(episode["question_id"], turn) for turn in range(3)]
        assert episode["actions"] == [_as_served(reply) for reply in scripted]
        assert [answer["usage"]["completion_tokens"] for _body, answer in turns] == [
            len(processor.tokenizer(reply)["input_ids"]) + 1 for reply in scripted
        ]
        assert episode["actions"][1].endswith("<bbox>[20, 20, 420, 200]</bbox>")

        # Sizes by the reference of VRAG-RL's resize and crop, applied to the source slide.
        raw = Image.open(slides / QUESTIONS[episode["question_id"]][2]).convert("RGB")
        shown = ref_process_image(raw)
        area = ref_crop_area(BOX, shown, raw, pad=PAD)
        assert area is not None
        page = _images(messages[1][-1])[0]
        crop = _images(messages[2][-1])[0]
        assert page.size == shown.size
        assert crop.size == ref_process_image(raw.crop(area)).size
        crop_widths.append(crop.size[0])
        # The crop view is the region VRAG-RL cuts (within one page pixel), not the whole page.
        region = episode["view_regions"][1]
        assert region == pytest.approx(area, abs=1)

        # The server decoded every image: its prompt length is the local processor's count.
        for body, answer in turns:
            local = build_model_inputs(processor, decode_openai(body["messages"]))
            assert answer["usage"]["prompt_tokens"] == local["input_ids"].shape[1]
    assert server.log.read_text().count("POST /v1/chat/completions") >= len(exchanges)
    # The portrait page's wide crop is wider than the env's canvas (sized for whole-page views),
    # so the env shows it shrunk; the agent still sends it at VRAG-RL's size.
    env = gym.make("VRAG-v0", preset="vrag-rl", corpus=str(corpus), split="test")
    _canvas_height, canvas_width = env.unwrapped.view_size
    env.close()
    assert max(crop_widths) > canvas_width
