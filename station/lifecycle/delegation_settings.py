"""``[delegation]``: keys handed out for the person to activate themselves with a Temporary Access Pass.

``tap_lifetime_minutes`` must lie within the tenant's TAP policy limits (``station doctor`` reads them);
``tap_usable_once`` makes the pass work for one sign-in; ``default_aaguid`` is the model of key handed out
when neither the inventory nor the command line says (empty: any passkey registered after the hand-out counts);
``check_every_minutes`` is how often the daemon settles the waiting hand-outs as ``station handout verify``
does (0: never; run that command from a timer instead); ``prepare_key`` makes a hand-out wait for its key to be
inserted at the station, which resets it and gives it a random PIN for the letter (``--prepare-key`` /
``--no-prepare-key`` decide per hand-out).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DelegationSection(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    tap_lifetime_minutes: int = Field(default=480, ge=10, le=43200)
    tap_usable_once: bool = True
    default_aaguid: str = Field(default="", pattern=r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                                                    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$")
    check_every_minutes: float = Field(default=15, ge=0, le=1440)
    prepare_key: bool = False
