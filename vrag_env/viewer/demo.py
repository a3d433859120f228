"""``vrag demo``: a small local web app to play an episode by hand or watch an agent step by step.

It uses only the standard library's HTTP server (no web framework to install) and binds to
``127.0.0.1`` by default. One page shows the question, the view the agent would see, the page with
the shown region outlined, the feedback and the history of steps; a text box sends an action, and
when an agent is loaded a button lets it take the next step. Gold answers appear only once the
episode has ended.

Routes: ``GET /`` (the page), ``GET /state.json`` (the same state as JSON), ``GET /view.jpg`` (the
observation image), ``GET /page.jpg`` (the page with the region outlined), ``POST /reset`` (form
fields ``question_id``, ``seed``), ``POST /step`` (form field ``action``), ``POST /agent-step``.
"""

from __future__ import annotations

import html
import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import gymnasium as gym
from PIL import Image

from vrag_env.viewer.images import jpeg_bytes, page_thumbnail

logger = logging.getLogger(__name__)

MAX_FORM_BYTES = 65536
"""Largest accepted form body (an action is at most 16384 characters)."""


class DemoSession:
    """One env, an optional agent and the current episode, shared by the app's requests.

    Args:
        env: The environment (``gym.make(...)``).
        agent: An agent (``act(observation, info) -> str`` and ``reset()``) to watch, or ``None``.
        agent_name: Its name for the page.
        privileged: Whether the agent reads ground truth (labelled on the page).
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        agent: Any | None = None,
        agent_name: str | None = None,
        privileged: bool = False,
    ) -> None:
        self.env = env
        self.agent = agent
        self.agent_name = agent_name
        self.privileged = privileged
        self.lock = threading.Lock()
        self.obs: dict[str, Any] = {}
        self.info: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.total = 0.0
        self.done = False
        self.reset()

    def reset(self, question_id: str | None = None, seed: int | None = None) -> None:
        """Start a new episode (a given question, or one drawn with ``seed``)."""
        with self.lock:
            options = {"question_id": question_id} if question_id else None
            self.obs, self.info = self.env.reset(seed=seed, options=options)
            if self.agent is not None:
                self.agent.reset()
            self.history, self.total, self.done = [], 0.0, False

    def step(self, action: str) -> None:
        """Apply ``action`` (ignored once the episode has ended)."""
        with self.lock:
            self._step(action)

    def agent_step(self) -> None:
        """Let the agent choose and apply the next action.

        Raises:
            ValueError: If the app was started without an agent.
        """
        if self.agent is None:
            raise ValueError("no agent loaded: start `vrag demo --agent NAME` to watch one")
        with self.lock:
            if not self.done:
                self._step(str(self.agent.act(self.obs, self.info)))

    def _step(self, action: str) -> None:
        if self.done:
            return
        self.obs, reward, terminated, truncated, self.info = self.env.step(action)
        self.total += float(reward)
        self.done = bool(terminated or truncated)
        self.history.append(
            {
                "action": action,
                "kind": self.info["action_kind"],
                "reward": round(float(reward), 4),
                "feedback": self.obs["feedback"],
                "page": self.info["current_page"],
            }
        )

    def state(self) -> dict[str, Any]:
        """The episode as JSON-serialisable data (gold answers only after the end)."""
        with self.lock:
            state: dict[str, Any] = {
                "question_id": self.info.get("question_id"),
                "question": self.obs.get("question"),
                "feedback": self.obs.get("feedback"),
                "step": self.info.get("step"),
                "current_page": self.info.get("current_page"),
                "view": self.info.get("view"),
                "history": list(self.history),
                "return": round(self.total, 4),
                "done": self.done,
                "agent": self.agent_name,
            }
            if self.done:
                state["score"] = self.info.get("score") or self.env.unwrapped.episode_score()  # type: ignore[attr-defined]
                state["prediction"] = self.env.unwrapped.episode_outcome().prediction  # type: ignore[attr-defined]
                query = self.env.unwrapped.corpus.queries[state["question_id"]]  # type: ignore[attr-defined]
                state["answers"] = list(query.answers)
            return state

    def view_jpeg(self) -> bytes:
        """The current observation image as JPEG."""
        with self.lock:
            return jpeg_bytes(Image.fromarray(self.obs["image"]), quality=90)

    def page_jpeg(self) -> bytes | None:
        """The current page with the shown region outlined, or ``None`` before any search."""
        with self.lock:
            page_id, view = self.info.get("current_page"), self.info.get("view")
            if page_id is None or view is None:
                return None
            u: Any = self.env.unwrapped
            page = u.corpus.page_image(u.real_page_id(page_id))  # info's ids are opaque
            return jpeg_bytes(page_thumbnail(page, 480, tuple(view["region"])), quality=85)


def _page_html(state: dict[str, Any], session: DemoSession) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{i + 1}</td><td>{e(str(h['kind']))}</td><td><code>{e(h['action'])}</code></td>"
        f"<td>{h['reward']:.2f}</td><td>{e(h['feedback'])}</td></tr>"
        for i, h in enumerate(state["history"])
    )
    agent = ""
    if session.agent is not None:
        label = e(session.agent_name or "agent")
        if session.privileged:
            label += " (privileged: reads the gold answers)"
        agent = (
            '<form method="post" action="/agent-step"><button id="agent-step" '
            f"{'disabled' if state['done'] else ''}>next step by {label}</button></form>"
        )
    end = ""
    if state["done"]:
        score = " · ".join(f"{k} {v:.2f}" for k, v in (state.get("score") or {}).items())
        end = (
            f'<div class="end"><b>prediction</b> {e(str(state.get("prediction")))} · <b>gold</b> '
            f"{e(' | '.join(state.get('answers', [])))}<br>{e(score)}</div>"
        )
    page = '<img src="/page.jpg" alt="page">' if state["current_page"] else ""
    n = len(state["history"])  # cache-busting: the images change after every step
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>vrag demo</title><style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 16px; }} img {{ border: 1px solid #ccc; }}
.pics {{ display: flex; gap: 12px; align-items: flex-start; }} .end {{ background: #eef6ee; padding: 6px; }}
table {{ border-collapse: collapse; }} td {{ border-bottom: 1px solid #eee; padding: 2px 6px; }}
input[name=action] {{ width: 60%; font-family: monospace; }}
</style></head><body>
<h1>vrag demo</h1>
<form method="post" action="/reset">question id <input name="question_id" size="16">
seed <input name="seed" size="5"> <button>new episode</button></form>
<p><b>question</b> (<span id="qid">{e(str(state["question_id"]))}</span>):
<span id="question">{e(str(state["question"]))}</span></p>
<p><b>feedback</b> <span id="feedback">{e(str(state["feedback"]))}</span> · step {state["step"]}
· return {state["return"]:.2f}</p>{end}
<form method="post" action="/step"><input name="action" autofocus
 placeholder="&lt;search&gt;query&lt;/search&gt;, &lt;bbox&gt;[x1, y1, x2, y2]&lt;/bbox&gt; or &lt;answer&gt;...&lt;/answer&gt;">
<button {"disabled" if state["done"] else ""}>step</button></form>{agent}
<div class="pics"><img src="/view.jpg?{n}" alt="observation">{page.replace(".jpg", f".jpg?{n}")}</div>
<table><tr><th>#</th><th>kind</th><th>action</th><th>reward</th><th>feedback</th></tr>{rows}</table>
</body></html>"""


def make_handler(session: DemoSession) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``session``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "vrag-demo"

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/":
                body = _page_html(session.state(), session).encode("utf-8")
                self._send(HTTPStatus.OK, body, "text/html; charset=utf-8")
            elif path == "/state.json":
                self._send(HTTPStatus.OK, json.dumps(session.state()).encode(), "application/json")
            elif path == "/view.jpg":
                self._send(HTTPStatus.OK, session.view_jpeg(), "image/jpeg")
            elif path == "/page.jpg":
                data = session.page_jpeg()
                if data is None:
                    self._send(HTTPStatus.NOT_FOUND, b"no page shown yet", "text/plain")
                else:
                    self._send(HTTPStatus.OK, data, "image/jpeg")
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_FORM_BYTES:
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"form too large", "text/plain")
                return
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8")).items()}
            try:
                if self.path == "/reset":
                    seed = form.get("seed", "").strip()
                    session.reset(
                        form.get("question_id", "").strip() or None, int(seed) if seed else None
                    )
                elif self.path == "/step":
                    session.step(form.get("action", ""))
                elif self.path == "/agent-step":
                    session.agent_step()
                else:
                    self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
                    return
            except ValueError as exc:  # unknown question id, bad seed, no agent
                self._send(
                    HTTPStatus.BAD_REQUEST, str(exc).encode("utf-8"), "text/plain; charset=utf-8"
                )
                return
            self.send_response(HTTPStatus.SEE_OTHER)
            self.send_header("Location", "/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def make_server(
    session: DemoSession, host: str = "127.0.0.1", port: int = 7860
) -> ThreadingHTTPServer:
    """An HTTP server for ``session`` (``port=0`` picks a free port; see ``server_address``)."""
    return ThreadingHTTPServer((host, port), make_handler(session))
