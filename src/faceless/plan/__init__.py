"""The plan: a versioned, serializable list of what to hide in every frame, and why."""

from faceless.plan.model import PLAN_SCHEMA, PLAN_VERSION, FramePlan, Plan, SourceInfo

__all__ = ["PLAN_SCHEMA", "PLAN_VERSION", "FramePlan", "Plan", "SourceInfo"]
