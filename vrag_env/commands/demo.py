"""``vrag demo``: play an episode by hand, or watch an agent step by step, in a local web page."""

from __future__ import annotations

import argparse
import json
from typing import Any


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``vrag demo`` options."""
    parser.add_argument("--env-id", default="VRAG-v0", help="registered env id (default: VRAG-v0)")
    parser.add_argument("--corpus", help="corpus folder (default: the built-in synthetic corpus)")
    parser.add_argument("--split", default="test", help="question split (default: test)")
    parser.add_argument("--question-id", help="first question (default: drawn with --seed)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    parser.add_argument(
        "--agent", help="agent to watch (random, oracle, heuristic, ... or module:Class)"
    )
    parser.add_argument(
        "--agent-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="agent option (VALUE parsed as JSON when possible); repeatable",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1, this machine only)",
    )
    parser.add_argument(
        "--port", type=int, default=7860, help="port (default: 7860; 0 picks a free one)"
    )


def _agent_options(items: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--agent-arg must look like KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def run(args: argparse.Namespace) -> int:
    """Serve the demo until interrupted."""
    import gymnasium as gym

    import vrag_env  # noqa: F401 - registers the env ids
    from vrag_env.viewer.demo import DemoSession, make_server

    kwargs: dict[str, Any] = {"split": args.split}
    if args.corpus:
        kwargs["corpus"] = args.corpus
    env = gym.make(args.env_id, **kwargs)
    agent, privileged = None, False
    if args.agent:
        # Agents sit above the env package; the command line is the top layer that joins them.
        from vrag_env._entry_points import load_entry_point

        make_agent = load_entry_point("agents.registry:make_agent")

        agent = make_agent(args.agent, env, **_agent_options(args.agent_arg))
        privileged = bool(getattr(agent, "privileged", args.agent == "oracle"))
    session = DemoSession(env, agent, getattr(agent, "name", args.agent), privileged)
    session.reset(args.question_id, args.seed)
    server = make_server(session, args.host, args.port)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"vrag demo serving on http://{host}:{port}/ (Ctrl-C stops it)", flush=True)  # noqa: T201
    try:
        server.serve_forever()
    finally:
        server.server_close()
        env.close()
    return 0
