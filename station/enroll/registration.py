"""Registering a credential the key made with Entra ID, and settling an uncertain answer by asking Entra ID.

An uncertain outcome (a timeout, a 5xx after the request was sent) is resolved by listing the person's
methods and matching the credential id — never by blindly posting again; only a credential Entra ID does not
hold, whose challenge has not expired, is posted a second time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from station.enroll.ceremony import NewCredential
from station.enroll.graph_gate import GraphGate
from station.enroll.ports import Options, PasskeysPort, Person
from station.enroll.prefetch import user_key
from station.enroll.reasons import failure, remedy_for
from station.errors import GraphError, GraphUncertainError, Reason

log = logging.getLogger(__name__)


def register(passkeys: PasskeysPort, graph_gate: GraphGate, person: Person, display_name: str,
             credential: NewCredential, options: Options) -> str:
    """The id of the passkey method Entra ID holds for ``credential`` once registered."""
    uid = user_key(person)
    try:
        with graph_gate:
            return passkeys.register(uid, display_name, credential.credential_id, credential.client_data_json,
                                     credential.attestation_object, credential.client_extension_results)
    except GraphUncertainError:
        log.warning("registration for %s had an uncertain outcome; checking Entra ID", person.upn)
    try:
        with graph_gate:
            found = passkeys.find_method_for_credential(uid, credential.credential_id)
    except GraphError as e:
        raise GraphUncertainError(f"registration outcome unknown, and Entra ID could not be asked: {e.message}",
                                  remedy=remedy_for(Reason.GRAPH_UNCERTAIN)) from e
    if found is not None:
        return found
    if options.expired(datetime.now(UTC), timedelta(seconds=5)):
        raise failure(Reason.CHALLENGE_EXPIRED, "the registration's challenge expired before it was confirmed")
    with graph_gate:
        return passkeys.register(uid, display_name, credential.credential_id, credential.client_data_json,
                                 credential.attestation_object, credential.client_extension_results)
