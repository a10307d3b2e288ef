"""Handing a key out as ``station handout`` and the daemon's control socket do it: the person found in the
store (or read from Entra ID and added), the escrow key to seal the pass to, and :func:`hand_out` with the
station's ``[delegation]`` settings."""

from __future__ import annotations

from pathlib import Path

from station.enroll.escrow_key import DeferredEscrow
from station.entra import EntraClient
from station.entra.tap import TemporaryAccessPasses
from station.errors import ConfigError, NotFoundError, StationError
from station.lifecycle.delegation_settings import DelegationSection
from station.lifecycle.handout import hand_out
from station.store import NewPerson, Store
from station.store.handouts import HandoutView
from station.text import visible


def escrow_for(public_key: Path | str | None) -> DeferredEscrow:
    """The escrow key every TAP is sealed to; a clear error when ``enrolment.escrow_public_key`` is not set."""
    if not public_key:
        raise ConfigError("hand-outs seal each TAP to the escrow key, and enrolment.escrow_public_key is not set",
                          remedy="Create a key pair with 'station pins keygen --out DIR' and set "
                                 "enrolment.escrow_public_key to its public half.")
    return DeferredEscrow(public_key)


def ensure_person(store: Store, client: EntraClient, who: str) -> str:
    """The UPN of ``who`` (UPN or object id) in the store; read from Entra ID and added when not there yet."""
    try:
        return store.queue.get(who).upn
    except NotFoundError:
        user = client.directory.get_user(who)
        if user.refused:
            raise StationError(f"{visible(who)} cannot be handed a key: {user.refused}",
                               remedy="Fix the account in Entra ID.") from None
        store.queue.add_people([NewPerson(upn=user.user_principal_name, display_name=user.display_name,
                                          object_id=user.id, source="handout",
                                          preferred_language=user.preferred_language or None)])
        return user.user_principal_name


class HandoutDesk:
    """Hands keys out for one station: its store, Entra client, escrow key (read when first needed, so a
    station without one still serves everything else) and ``[delegation]`` settings."""

    def __init__(self, store: Store, client: EntraClient, settings: DelegationSection,
                 escrow_public_key: Path | str | None, station_id: str) -> None:
        self.store, self.client, self.settings = store, client, settings
        self.escrow_public_key, self.station_id = escrow_public_key, station_id
        self._escrow: DeferredEscrow | None = None

    def hand_out(self, who: str, *, key_serial: str | None = None, aaguid: str | None = None,
                 prepare_key: bool | None = None) -> HandoutView:
        """Hand a key out to ``who`` (UPN or object id): a new TAP replacing theirs, sealed; the hand-out. Its key
        is prepared at this station first when ``prepare_key`` (None: ``[delegation] prepare_key``) says so."""
        if self._escrow is None:
            self._escrow = escrow_for(self.escrow_public_key)
        upn = ensure_person(self.store, self.client, who)
        return hand_out(self.store, TemporaryAccessPasses(self.client.http), self._escrow, self.settings, upn,
                        key_serial=key_serial, aaguid=aaguid, station_id=self.station_id,
                        prepare_key=self.settings.prepare_key if prepare_key is None else prepare_key)
