"""The virtual security key: a software CTAP 2.1 authenticator with a CTAPHID face.

``VirtualKey`` is the authenticator core (``process_cbor`` / ``process_u2f``); ``Finger`` decides about
user presence; ``Faults`` injects latency, removal, malformed answers and chosen errors;
``attestation_root_pem`` is the emulator's attestation CA. ``ctaphid.open_virtual_device`` gives a
python-fido2 ``CtapHidDevice`` for a key; the NFC and hidraw faces build on the same core.
"""

from station_emulator.key.attestation import attestation_root_pem
from station_emulator.key.authenticator import KeyRemovedError, VirtualKey
from station_emulator.key.faults import Faults
from station_emulator.key.finger import Finger, Touch
from station_emulator.key.profiles import PROFILES

__all__ = ["PROFILES", "Faults", "Finger", "KeyRemovedError", "Touch", "VirtualKey", "attestation_root_pem"]
