"""Fixtures of the planner tests; the builders live in plan_worlds."""

from plan_worlds import plan

__all__ = ["plan"]
