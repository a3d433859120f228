"""Tiny offline VLM checkpoints, chat helpers and image-token bookkeeping (CPU, no downloads)."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("torchvision")

from agents.vlm import chat, image_budget, tiny  # noqa: E402

ARCHS = ("qwen2_vl", "qwen2_5_vl")
# Page, crop and page with different sizes and aspect ratios: the token count differs per image.
IMAGE_SIZES = ((420, 560), (150, 90), (500, 300))  # (width, height)


def _image(size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Any:
    # Tiny matrices gain nothing from intra-op threads, and on a shared 2-core machine two
    # threads make each step 10x slower and erratic (they wait on each other).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return [_image(size, seed) for seed, size in enumerate(IMAGE_SIZES)]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_vlm")
    return {arch: tiny.build_tiny_vlm(root / arch, arch=arch, seed=0) for arch in ARCHS}


@pytest.fixture(scope="module")
def loaded(checkpoints: dict[str, Path]) -> dict[str, tuple[Any, Any]]:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    return {
        arch: (
            AutoModelForImageTextToText.from_pretrained(path).eval(),
            AutoProcessor.from_pretrained(path),
        )
        for arch, path in checkpoints.items()
    }


def _vrag_conversation(images: list[Image.Image]) -> list[dict[str, Any]]:
    """Question, then search -> page, crop -> crop, search -> page (user-role observations)."""
    page1, crop, page2 = images
    return [
        {"role": "system", "content": [chat.text_block("Answer with <answer>.</answer>")]},
        {"role": "user", "content": [chat.text_block("Question: What was the revenue in 2021?")]},
        chat.action_message("<think>Find it.</think>\n<search>Aurora revenue 2021</search>"),
        {
            "role": "user",
            "content": [chat.image_block(page1), chat.text_block("Retrieved page 3.")],
        },
        chat.action_message("<bbox>[12, 40, 300, 200]</bbox>"),
        {"role": "user", "content": [chat.image_block(crop), chat.text_block("Cropped.")]},
        chat.action_message("<search>Aurora annual report 2021 table</search>"),
        {"role": "user", "content": [chat.image_block(page2)]},
    ]


def _tool_conversation(images: list[Image.Image]) -> list[dict[str, Any]]:
    """The same trajectory in TRL's tool-message form (tool results carry the images)."""
    page1, crop, page2 = images
    return [
        {"role": "user", "content": [chat.text_block("What was the revenue in 2021?")]},
        chat.tool_call_message("search", {"query": "Aurora revenue 2021"}, content="Find it."),
        {
            "role": "tool",
            "name": "search",
            "content": [chat.image_block(page1), chat.text_block("page 3")],
        },
        chat.tool_call_message("crop", {"box": [0.1, 0.2, 0.6, 0.5]}),
        {"role": "tool", "name": "crop", "content": [chat.image_block(crop)]},
        chat.tool_call_message("search", {"query": "Aurora annual report table"}),
        {
            "role": "tool",
            "name": "search",
            "content": [chat.image_block(page2), chat.text_block("page 7")],
        },
    ]


def _search(query: str) -> list[dict[str, Any]]:
    """Retrieve the best matching page.

    Args:
        query: The search query.
    """
    return []


def _check_bookkeeping(model: Any, processor: Any, inputs: Any, images: list[Image.Image]) -> None:
    """<|image_pad|> count == sum(grid_thw.prod() // merge**2) == per-image counts; forward runs."""
    merge = processor.image_processor.merge_size
    n_pad = int((inputs["input_ids"] == processor.image_token_id).sum())
    grid = inputs["image_grid_thw"]
    assert grid.shape == (len(images), 3)
    assert n_pad == int((grid.prod(dim=-1) // merge**2).sum())
    counter = image_budget.processor_image_token_counter(processor)
    per_image = [counter(image) for image in images]
    assert per_image == (grid.prod(dim=-1) // merge**2).tolist()
    with torch.no_grad():
        out = model(**inputs)  # raises on a feature/token mismatch
    assert out.logits.shape[:2] == inputs["input_ids"].shape
    assert torch.isfinite(out.logits).all()


# ------------------------------------------------------------------------------------------------
# Checkpoint folder, tokenizer, config
# ------------------------------------------------------------------------------------------------


def test_build_is_atomic_idempotent_and_overwritable(tmp_path: Path) -> None:
    out = tmp_path / "ckpt"
    assert tiny.build_tiny_vlm(out) == out
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tiny_vlm.json"} <= names
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no temp folder left behind
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    tiny.build_tiny_vlm(out)  # existing checkpoint: returned as is
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="holds a tiny VLM built with"):
        tiny.build_tiny_vlm(out, arch="qwen2_5_vl")  # same folder, different config
    tiny.build_tiny_vlm(out, arch="qwen2_5_vl", overwrite=True)
    assert json.loads((out / "config.json").read_text())["model_type"] == "qwen2_5_vl"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
    other = tmp_path / "not_a_checkpoint"
    other.mkdir()
    with pytest.raises(FileExistsError):
        tiny.build_tiny_vlm(other)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="arch"):
        tiny.TinyVLMConfig(arch="llava")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="head_dim"):
        tiny.TinyVLMConfig(hidden_size=24, num_attention_heads=4)
    cfg = tiny.TinyVLMConfig()
    assert sum(cfg.mrope_section) == cfg.head_dim // 2


def test_tokenizer_covers_the_grammar() -> None:
    tok = tiny.build_tiny_tokenizer()
    assert [tok.convert_tokens_to_ids(t) for t in tiny.SPECIAL_TOKENS] == list(range(7))
    assert 900 <= len(tok) <= 1100
    assert (
        tok.bos_token is None and tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    )
    samples = [
        "<think>zoom in</think>\n<bbox>[12, 340, 298, 411]</bbox>",
        "<search>Aurora annual report 2021 revenue</search>",
        "<answer>$1,234.5</answer>",
        '<tool_call>\n{"name": "crop", "arguments": {"box": [0.1, 0.25, 0.6, 0.5]}}\n</tool_call>',
        "How many employees did Kestrel have in Q3? ünïcödé ✓",
    ]
    for text in samples:
        ids = tok(text)["input_ids"]
        assert tok.decode(ids) == text
        assert len(ids) < 2 * len(text) // 3 or "ü" in text  # merges exist: not byte-level only
    # Tool tokens are single, added, non-special tokens: they survive skip_special_tokens.
    call = '<tool_call>\n{"name": "answer", "arguments": {"answer": "42"}}\n</tool_call><|im_end|>'
    ids = tok(call)["input_ids"]
    assert tok.convert_tokens_to_ids("<tool_call>") in ids
    assert tok.decode(ids, skip_special_tokens=True) == call.removesuffix("<|im_end|>")
    # Deterministic vocabulary.
    assert tiny.build_tiny_tokenizer().get_vocab() == tok.get_vocab()


@pytest.mark.parametrize("arch", ARCHS)
def test_config_token_ids_match_the_tiny_vocab(
    arch: str, loaded: dict[str, tuple[Any, Any]]
) -> None:
    model, processor = loaded[arch]
    tok = processor.tokenizer
    cfg, text = model.config, model.config.text_config
    assert text.vocab_size == len(tok) == model.get_input_embeddings().num_embeddings
    assert text.bos_token_id == tok.pad_token_id  # <|endoftext|>, as in real Qwen2-VL configs
    assert text.eos_token_id == tok.eos_token_id
    assert (
        cfg.image_token_id == processor.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    )
    assert cfg.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert model.generation_config.eos_token_id == [tok.eos_token_id, tok.pad_token_id]
    n_params = sum(p.numel() for p in model.parameters())
    assert 100_000 < n_params < 1_000_000
    assert type(processor).__name__ == (
        "Qwen2VLProcessor" if arch == "qwen2_vl" else "Qwen2_5_VLProcessor"
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_trl_recognises_the_template(arch: str, loaded: dict[str, tuple[Any, Any]]) -> None:
    from trl.chat_template_utils import (
        add_response_schema,
        is_chat_template_prefix_preserving,
        qwen3_vl_chat_template,
        supports_tool_calling,
    )

    _, processor = loaded[arch]
    assert processor.chat_template == qwen3_vl_chat_template  # exact match after save/load
    assert supports_tool_calling(processor)
    assert is_chat_template_prefix_preserving(processor)
    add_response_schema(processor)
    completion = (
        '<tool_call>\n{"name": "search", "arguments": {"query": "revenue"}}\n</tool_call><|im_end|>'
    )
    parsed = processor.tokenizer.parse_response(completion, prefix="<|im_start|>assistant\n")
    assert chat.message_to_action(parsed) == '{"name": "search", "arguments": {"query": "revenue"}}'


# ------------------------------------------------------------------------------------------------
# Image-token bookkeeping
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHS)
def test_multi_turn_images_round_trip(
    arch: str, loaded: dict[str, tuple[Any, Any]], images: list[Image.Image]
) -> None:
    model, processor = loaded[arch]
    messages = _vrag_conversation(images)
    inputs = chat.build_model_inputs(processor, messages)
    _check_bookkeeping(model, processor, inputs, images)
    # The processor's own one-call path gives the same tokens.
    direct = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    assert torch.equal(direct["input_ids"], inputs["input_ids"])
    assert torch.equal(direct["image_grid_thw"], inputs["image_grid_thw"])


@pytest.mark.parametrize("arch", ARCHS)
def test_tool_messages_render_images(
    arch: str, loaded: dict[str, tuple[Any, Any]], images: list[Image.Image]
) -> None:
    model, processor = loaded[arch]
    messages = _tool_conversation(images)
    text = chat.render_chat(processor, messages, tools=[_search])
    assert text.count(chat.VISION_PLACEHOLDER) == 3
    assert text.count("<tool_response>") == 3 and '"name": "crop"' in text
    inputs = chat.build_model_inputs(processor, messages, tools=[_search])
    _check_bookkeeping(model, processor, inputs, images)
    direct = processor.apply_chat_template(
        messages, tools=[_search], add_generation_prompt=True, tokenize=True, return_dict=True,
        return_tensors="pt",
    )  # fmt: skip
    assert torch.equal(direct["input_ids"], inputs["input_ids"])


# A ChatML template that renders images everywhere except in tool messages.
DROPS_TOOL_IMAGES = (
    "{%- for m in messages %}<|im_start|>{{ m.role }}\n"
    "{%- if m.content is string %}{{ m.content }}{%- else %}{%- for c in m.content %}"
    "{%- if c.type == 'image' and m.role != 'tool' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif c.type == 'text' %}{{ c.text }}{%- endif %}{%- endfor %}{%- endif %}<|im_end|>\n"
    "{%- endfor %}"
)


def test_template_that_drops_tool_images_is_refused(
    loaded: dict[str, tuple[Any, Any]], images: list[Image.Image]
) -> None:
    _, processor = loaded["qwen2_vl"]
    messages = _tool_conversation(images)
    with pytest.raises(ValueError, match="rendered 0 image placeholder"):
        chat.build_model_inputs(processor, messages, chat_template=DROPS_TOOL_IMAGES)
    # Qwen2/2.5-VL's own template renders tool images but ignores tool calls, so TRL cannot use it.
    from trl.chat_template_utils import qwen2_5_vl_chat_template, supports_tool_calling

    text = chat.render_chat(processor, messages, chat_template=qwen2_5_vl_chat_template)
    assert text.count(chat.VISION_PLACEHOLDER) == 3 and "crop" not in text
    processor.chat_template, saved = qwen2_5_vl_chat_template, processor.chat_template
    try:
        assert not supports_tool_calling(processor)
    finally:
        processor.chat_template = saved


@pytest.mark.parametrize("arch", ARCHS)
def test_batch_with_different_image_counts(
    arch: str, loaded: dict[str, tuple[Any, Any]], images: list[Image.Image]
) -> None:
    model, processor = loaded[arch]
    short = [{"role": "user", "content": [chat.image_block(images[1]), chat.text_block("Q?")]}]
    batch = [_vrag_conversation(images), short]
    inputs = chat.build_model_inputs(processor, batch)
    assert inputs["input_ids"].shape[0] == 2
    assert inputs["attention_mask"][1, 0] == 0  # left padding
    _check_bookkeeping(model, processor, inputs, [*images, images[1]])


def test_test_images_differ_in_token_count(images: list[Image.Image]) -> None:
    counts = [image_budget.qwen_image_tokens(image) for image in images]
    assert len(set(counts)) == len(counts)


def test_image_token_count_matches_the_processor(loaded: dict[str, tuple[Any, Any]]) -> None:
    _, processor = loaded["qwen2_vl"]
    counter = image_budget.processor_image_token_counter(processor)
    for size in ((10, 10), (28, 28), (640, 480), (2000, 1000), (37, 900)):
        image = Image.new("RGB", size)
        grid = processor.image_processor(images=[image], return_tensors="pt")["image_grid_thw"]
        assert counter(image) == int(grid.prod()) // 4, size
        assert counter(image) <= 64


# ------------------------------------------------------------------------------------------------
# Save/load, determinism, generation, CLI
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHS)
def test_save_load_gives_identical_logits(
    arch: str, loaded: dict[str, tuple[Any, Any]], images: list[Image.Image]
) -> None:
    model, processor = loaded[arch]
    fresh = tiny.build_tiny_model(tiny.TinyVLMConfig(arch=arch, seed=0), processor.tokenizer)
    other = tiny.build_tiny_model(tiny.TinyVLMConfig(arch=arch, seed=1), processor.tokenizer)
    inputs = chat.build_model_inputs(processor, _vrag_conversation(images))
    with torch.no_grad():
        loaded_logits = model(**inputs).logits
        assert torch.equal(fresh(**inputs).logits, loaded_logits)
        assert not torch.equal(other(**inputs).logits, loaded_logits)


@pytest.mark.parametrize("arch", ARCHS)
def test_generate_with_images(
    arch: str, loaded: dict[str, tuple[Any, Any]], images: list[Image.Image]
) -> None:
    model, processor = loaded[arch]
    inputs = chat.build_model_inputs(processor, _vrag_conversation(images))
    torch.manual_seed(0)
    start = time.perf_counter()
    out = model.generate(**inputs, max_new_tokens=32, min_new_tokens=32, do_sample=True, top_k=0)
    elapsed = time.perf_counter() - start
    new = out[0, inputs["input_ids"].shape[1] :]
    assert new.shape[0] == 32
    assert isinstance(processor.decode(new, skip_special_tokens=True), str)
    assert elapsed < 10.0  # typically ~0.05 s; generous for a shared 2-core machine


@pytest.mark.parametrize("arch", ARCHS)
def test_fine_tuning_lowers_the_loss(arch: str, checkpoints: dict[str, Path]) -> None:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(checkpoints[arch]).train()
    processor = AutoProcessor.from_pretrained(checkpoints[arch])
    page = _image((200, 300), 7)
    actions = ["<search>Aurora revenue 2021</search>", "<bbox>[12, 40, 300, 200]</bbox>"]
    batch = [
        [
            {"role": "user", "content": [chat.image_block(page), chat.text_block(f"Q{i}?")]},
            chat.action_message(action),
        ]
        for i, action in enumerate(actions)
    ]
    inputs = chat.build_model_inputs(processor, batch, add_generation_prompt=False)
    labels = inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    losses = []
    for _ in range(25):
        loss = model(**inputs, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.4 * losses[0]


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny.main(["--out", str(tmp_path / "cli"), "--arch", "qwen2_5_vl", "--seed", "3"])
    manifest = json.loads((tmp_path / "cli" / "tiny_vlm.json").read_text())
    assert manifest["config"]["arch"] == "qwen2_5_vl" and manifest["config"]["seed"] == 3
    assert "parameters" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------
# Chat helpers
# ------------------------------------------------------------------------------------------------


def test_observation_messages_and_actions() -> None:
    from vrag_env.actions import ActionSet, Search

    obs = {
        "question": "What was the revenue?",
        "image": np.full((64, 48, 3), 200, np.uint8),
        "feedback": "Retrieved page 2.",
    }
    message = chat.observation_message(obs, include_question=True)
    assert message["role"] == "user"
    assert message["content"][0]["image"].size == (48, 64)
    assert chat.message_text(message) == "Question: What was the revenue?\nRetrieved page 2."
    blank = chat.observation_message({**obs, "feedback": ""}, role="tool", include_image=False)
    assert blank == {"role": "tool", "content": [{"type": "text", "text": ""}]}
    with pytest.raises(ValueError):
        chat.observation_message(obs, role="assistant")
    with pytest.raises(TypeError):
        chat.to_pil([[0]])  # type: ignore[arg-type]
    assert chat.message_to_action(chat.action_message("<answer>4</answer>")) == "<answer>4</answer>"
    action = chat.message_to_action(chat.tool_call_message("search", {"query": "revenue"}))
    assert ActionSet("tool").parse(action) == Search("revenue")


def test_trim_images_keeps_the_last_k() -> None:
    imgs = [Image.new("RGB", (56, 56), (i, 0, 0)) for i in range(4)]
    messages = [{"role": "user", "content": [chat.text_block("q")]}] + [
        {"role": "user", "content": [chat.image_block(im), chat.text_block(f"t{i}")]}
        for i, im in enumerate(imgs)
    ]
    trimmed = image_budget.trim_images(messages, keep_last=2)
    assert chat.count_images(trimmed) == 2
    assert chat.collect_images(trimmed) == imgs[2:]
    assert [chat.message_text(m) for m in trimmed[1:3]] == [
        chat.IMAGE_PLACEHOLDER + "t0",
        chat.IMAGE_PLACEHOLDER + "t1",
    ]
    assert chat.count_images(messages) == 4  # input untouched
    assert chat.count_images(image_budget.trim_images(messages, keep_last=None)) == 4
    assert chat.count_images(image_budget.trim_images(messages, keep_last=0)) == 0
    # Pixel budget: 2 images of 56*56 fit in 7000 pixels; the newest is kept even over budget.
    assert (
        chat.count_images(image_budget.trim_images(messages, keep_last=None, max_pixels=7000)) == 2
    )
    assert chat.collect_images(image_budget.trim_images(messages, max_pixels=10)) == [imgs[3]]
    # Token budget: each 56x56 image costs 4 tokens.
    counter = image_budget.processor_image_token_counter(tiny.build_tiny_processor())
    assert counter(imgs[0]) == 4
    kept = image_budget.trim_images(
        messages, keep_last=None, max_image_tokens=12, token_counter=counter
    )
    assert chat.count_images(kept) == 3
    with pytest.raises(ValueError):
        image_budget.trim_images(messages, max_image_tokens=12)


def test_to_openai_messages(images: list[Image.Image]) -> None:
    converted = chat.to_openai_messages(_tool_conversation(images))
    json.dumps(converted)  # serialisable
    roles = [m["role"] for m in converted]
    assert roles == [
        "user",
        "assistant",
        "tool",
        "user",
        "assistant",
        "tool",
        "user",
        "assistant",
        "tool",
        "user",
    ]
    calls = [m["tool_calls"][0] for m in converted if m["role"] == "assistant"]
    tool_ids = [m["tool_call_id"] for m in converted if m["role"] == "tool"]
    assert tool_ids == [c["id"] for c in calls] and len(set(tool_ids)) == 3
    assert json.loads(calls[1]["function"]["arguments"]) == {"box": [0.1, 0.2, 0.6, 0.5]}
    assert converted[2]["content"] == "page 3"
    url = converted[3]["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")
    assert np.array_equal(np.asarray(decoded), np.asarray(images[0]))  # PNG is lossless
    kept = chat.to_openai_messages(_tool_conversation(images), tool_images="keep")
    assert [m["role"] for m in kept].count("user") == 1
    assert kept[2]["content"][0]["type"] == "image_url"
    # Trimming works on converted messages too (data URLs are decoded for their size).
    assert chat.count_images(image_budget.trim_images(kept, keep_last=1, max_pixels=10)) == 1
