"""Microsoft Graph / Entra ID client: token acquisition, HTTP with retries, directory, passkeys, policy preflight.

Build one with ``EntraClient.from_config(cfg)``; the rest of Station talks to Entra only through it.
"""

from station.entra.client import EntraClient
from station.entra.directory import DeltaPage, DirectoryUser, Group
from station.entra.passkeys import CreationOptions, Fido2Method
from station.entra.policy import Finding

__all__ = [
    "CreationOptions", "DeltaPage", "DirectoryUser", "EntraClient", "Fido2Method", "Finding", "Group",
]
