"""``[lifecycle]``: what ``station sync`` does about leavers — people holding a key Station enrolled who are
gone from the directory or from every imported rollout group. ``on_leaver = "report"`` (the default) lists
them; ``"revoke"`` deletes their keys' passkeys in Entra ID (reason ``left``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class LifecycleSection(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    on_leaver: Literal["report", "revoke"] = "report"
