"""Passkey calls on a user's behalf: creation options (their rp.id pinned to ``tenant.rp_id``), register,
list, delete, and matching a credential to the method Entra made of it (the method id is the credential id
in UrlTokenEncode form)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from station.entra import codec
from station.entra.directory import user_path
from station.entra.http import GraphHttp
from station.errors import GraphError, Reason

log = logging.getLogger(__name__)

MAX_DISPLAY_NAME = 30
ENTRA_RP_ID = "login.microsoft.com"
RP_ID_REMEDY = ("Graph asked for a passkey for another site than tenant.rp_id. Check tenant.graph_host (and any "
                "proxy in between) and tenant.rp_id, which is login.microsoft.com for Entra ID.")


@dataclass(frozen=True)
class CreationOptions:
    """What Graph handed out for one user's registration. ``public_key`` is the raw WebAuthn dict."""

    user_id: str
    public_key: dict[str, Any] = field(hash=False, compare=False, repr=False)
    challenge: bytes
    expires_at: datetime
    rp_id: str
    user_handle: bytes
    exclude_credentials: tuple[bytes, ...]

    def expired(self, now: datetime | None = None, margin: timedelta = timedelta(0)) -> bool:
        return (now or datetime.now(UTC)) + margin >= self.expires_at


@dataclass(frozen=True)
class Fido2Method:
    id: str
    display_name: str
    aaguid: str
    model: str
    created: str

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Fido2Method:
        return cls(str(item["id"]), str(item.get("displayName") or ""), str(item.get("aaGuid") or ""),
                   str(item.get("model") or ""), str(item.get("createdDateTime") or ""))

    def credential_ids(self) -> tuple[bytes, ...]:
        """The credential ids this method id can stand for (one, unless its encoding is ambiguous)."""
        try:
            return codec.decode_candidates(self.id)
        except ValueError:
            return ()


def _bad_options(user_id: str, detail: str) -> GraphError:
    return GraphError(f"creation options for {user_id} are unusable: {detail}", reason=Reason.GRAPH_BAD_REQUEST,
                      remedy="Graph returned creation options Station cannot read; see the station log.")


def parse_creation_options(user_id: str, body: Mapping[str, Any]) -> CreationOptions:
    """Read a creationOptions response, bare or wrapped in ``{"value": …}``."""
    value = body.get("value")
    data = value if isinstance(value, Mapping) else body
    pk = data.get("publicKey")
    if not isinstance(pk, Mapping):
        raise _bad_options(user_id, "no publicKey")
    try:
        expires = datetime.fromisoformat(str(data["challengeTimeoutDateTime"]).replace("Z", "+00:00"))
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        exclude: list[bytes] = []
        for cred in pk.get("excludeCredentials") or []:
            for reading in codec.decode_candidates(str(cred["id"])):
                if reading not in exclude:
                    exclude.append(reading)
        return CreationOptions(
            user_id=user_id,
            public_key=dict(pk),
            challenge=codec.decode(str(pk["challenge"]), prefer="plain"),
            expires_at=expires,
            rp_id=str(pk["rp"]["id"]),
            user_handle=codec.decode(str(pk["user"]["id"]), prefer="plain"),
            exclude_credentials=tuple(exclude),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise _bad_options(user_id, f"{type(e).__name__}: {e}") from None


class Passkeys:
    """``rp_id``: the relying party creation options must name (login.microsoft.com for Entra ID); options for
    any other are refused, so a key never makes a passkey for a site Graph did not stand for."""

    def __init__(self, http: GraphHttp, challenge_timeout_minutes: int = 5, *,
                 rp_id: str = ENTRA_RP_ID) -> None:
        self.http = http
        self.challenge_timeout_minutes = challenge_timeout_minutes
        self.rp_id = rp_id

    def _methods(self, user_id: str) -> str:
        return f"{user_path(user_id)}/authentication/fido2Methods"

    def creation_options(self, user_id: str) -> CreationOptions:
        path = f"{self._methods(user_id)}/creationOptions"
        if self.http.version == "beta":
            path += f"(challengeTimeoutInMinutes={self.challenge_timeout_minutes})"
        body = self.http.get_json(path, purpose="creation_options", what=f"creation options for {user_id}")
        options = parse_creation_options(user_id, body)
        if options.rp_id != self.rp_id:
            raise GraphError(f"creation options for {user_id} name the relying party {options.rp_id[:100]!r}, "
                             f"not {self.rp_id!r}; refused before touching the key", reason=Reason.RP_ID_MISMATCH,
                             remedy=RP_ID_REMEDY)
        return options

    def register(
        self,
        user_id: str,
        display_name: str,
        credential_id: bytes,
        client_data_json: bytes,
        attestation_object: bytes,
        client_extension_results: Mapping[str, Any] | None = None,
    ) -> str:
        """Register the new credential; returns the method id. GraphUncertainError when the outcome is unknown:
        resolve it with ``find_method_for_credential``, never by registering again."""
        body = {
            "displayName": display_name.strip()[:MAX_DISPLAY_NAME].rstrip(),
            "publicKeyCredential": {
                "id": codec.encode(credential_id),
                "response": {
                    "clientDataJSON": codec.encode(client_data_json),
                    "attestationObject": codec.encode(attestation_object),
                },
                "clientExtensionResults": dict(client_extension_results or {}),
            },
        }
        response = self.http.request("POST", self._methods(user_id), purpose="register",
                                     what=f"register passkey for {user_id}", json=body)
        try:
            method_id = str(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise GraphError(f"register passkey for {user_id}: Graph answered {response.status_code} without "
                             "a method id", status=response.status_code, reason=Reason.GRAPH_UNCERTAIN,
                             retryable=True, remedy="Station will check Entra ID for the outcome.") from None
        log.info("passkey registered for %s as method %s", user_id, method_id)
        return method_id

    def list_methods(self, user_id: str) -> list[Fido2Method]:
        methods: list[Fido2Method] = []
        for page in self.http.pages(self._methods(user_id), purpose="passkeys",
                                    what=f"list passkeys of {user_id}"):
            methods.extend(Fido2Method.of(item) for item in page.get("value", []))
        return methods

    def delete(self, user_id: str, method_id: str) -> bool:
        """Delete a passkey; False when it was already gone."""
        try:
            self.http.request("DELETE", f"{self._methods(user_id)}/{method_id}", purpose="passkeys",
                              what=f"delete passkey {method_id} of {user_id}")
        except GraphError as e:
            if e.status == 404:
                return False
            raise
        return True

    def find_method_for_credential(self, user_id: str, credential_id: bytes) -> str | None:
        """The id of the user's method made from ``credential_id``, or None when there is none."""
        for method in self.list_methods(user_id):
            if credential_id in method.credential_ids():
                return method.id
        return None
