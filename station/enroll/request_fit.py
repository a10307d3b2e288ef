"""Fitting a makeCredential request to what the key declares it can take.

Real keys refuse a whole ceremony over a detail: a user name longer than they store (Titan v2 answers 0xF1),
an algorithm list naming one they lack (early Feitian keys), an excludeList longer than
maxCredentialCountInList or with ids over maxCredentialIdLength (LIMIT_EXCEEDED), a request over maxMsgSize
(510 bytes on a Crescendo V3; 1024 when not declared). So: user.name and displayName are cut to 64 bytes on a
UTF-8 boundary; pubKeyCredParams keep only the key's algorithms (when it lists them); an excludeList that
does not fit is checked in pieces with silent assertions (up = false, as CTAP 2.1 §6.1.2 suggests) and only
an id the key recognises is sent; a request that is still too large fails with a clear reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from fido2 import cbor
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2

from station.enroll.reasons import failure
from station.errors import Reason, StationError
from station.i18n import _

log = logging.getLogger(__name__)

USER_FIELD_BYTES: Final = 64
SHORT_USER_FIELD_BYTES: Final = 32
DEFAULT_MAX_MSG_SIZE: Final = 1024
# Room for the pinUvAuthParam (32 bytes under protocol 2), its protocol number and the command byte.
PIN_AUTH_ALLOWANCE: Final = 40


def cut_utf8(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` bytes of UTF-8 without splitting a character."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def fit_user(user: Mapping[str, Any], limit: int = USER_FIELD_BYTES) -> dict[str, Any]:
    fitted = dict(user)
    for name in ("name", "displayName"):
        if isinstance(fitted.get(name), str):
            fitted[name] = cut_utf8(fitted[name], limit)
    return fitted


def key_algorithms(params: Sequence[Mapping[str, Any]], declared: Sequence[Mapping[str, Any]] | None,
                   ) -> list[Mapping[str, Any]]:
    """The requested algorithms the key lists (all of them when it lists none); FEATURE_MISSING when none is left."""
    if not declared:
        return list(params)
    have = {int(a["alg"]) for a in declared if "alg" in a}
    kept = [p for p in params if int(p["alg"]) in have]
    if not kept:
        wanted = ", ".join(str(p["alg"]) for p in params)
        raise StationError(f"the key has none of the algorithms Entra ID accepts ({wanted})",
                           reason=Reason.FEATURE_MISSING, retryable=False,
                           remedy=_("This key model cannot make a passkey Entra ID accepts. Take another model."))
    return kept


def encoded_size(args: Mapping[int, Any]) -> int:
    """Bytes of the makeCredential message (command byte, CBOR map, room for the PIN auth) for ``args``."""
    return 1 + len(cbor.encode({k: v for k, v in args.items() if v is not None})) + PIN_AUTH_ALLOWANCE


def fits(ctap: Ctap2, args: Mapping[int, Any]) -> bool:
    return encoded_size(args) <= (ctap.info.max_msg_size or DEFAULT_MAX_MSG_SIZE)


def exclude_list(ctap: Ctap2, rp_id: str, ids: Sequence[bytes], args: Mapping[int, Any],
                 ) -> list[Mapping[str, Any]]:
    """The excludeList to send: the whole list when the key takes it, else only an id the key recognises."""
    info = ctap.info
    limit = info.max_cred_id_length or None
    usable = [cid for cid in ids if limit is None or len(cid) <= limit]  # longer ids cannot be this key's
    descriptors: list[Mapping[str, Any]] = [{"type": "public-key", "id": cid} for cid in usable]
    count = info.max_creds_in_list or None
    if (count is None or len(descriptors) <= count) and fits(ctap, {**args, 5: descriptors or None}):
        return descriptors
    step = count or len(descriptors)
    for start in range(0, len(descriptors), step):
        chunk = descriptors[start:start + step]
        try:
            found = ctap.get_assertion(rp_id, b"\0" * 32, chunk, options={"up": False})
        except CtapError as e:
            if e.code == CtapError.ERR.NO_CREDENTIALS:
                continue
            raise
        credential: Mapping[str, Any] | None = found.credential or (chunk[0] if len(chunk) == 1 else None)
        if credential is not None:
            return [{"type": "public-key", "id": bytes(credential["id"])}]
    log.debug("none of %d excluded credentials is on the key", len(descriptors))
    return []


def fit(ctap: Ctap2, rp: Mapping[str, Any], user: Mapping[str, Any], params: Sequence[Mapping[str, Any]],
        exclude_ids: Sequence[bytes], extensions: Mapping[str, Any],
        ) -> tuple[dict[str, Any], list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(user, pubKeyCredParams, excludeList) that the key takes; a request too large even then fails."""
    fitted_user = fit_user(user)
    kept = key_algorithms(params, ctap.info.algorithms)
    args: dict[int, Any] = {1: b"\0" * 32, 2: dict(rp), 3: fitted_user, 4: kept, 6: dict(extensions) or None,
                            7: {"rk": True}}
    excluded = exclude_list(ctap, str(rp["id"]), exclude_ids, args)
    args[5] = excluded or None
    if not fits(ctap, args):
        fitted_user = fit_user(user, SHORT_USER_FIELD_BYTES)
        args[3] = fitted_user
    if not fits(ctap, args):
        raise failure(Reason.KEY_ERROR, f"the makeCredential request ({encoded_size(args)} bytes) does not fit "
                                        f"the key's maxMsgSize ({ctap.info.max_msg_size})", retryable=False)
    return fitted_user, kept, excluded

