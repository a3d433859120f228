"""Baseline agents for vrag-env.

An agent maps ``(observation, info)`` to an action string (see :class:`agents.base.Agent`). Use
:func:`agents.registry.make_agent` to build one by name (``"random"``, ``"oracle"``, ...) or by import
path (``"my_package.my_module:MyAgent"``).
"""
