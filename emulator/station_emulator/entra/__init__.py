"""The Entra ID / Microsoft Graph emulator: an HTTPS tenant for ``station demo``, dry runs, tests and benchmarks.

``EntraEmulator`` (server.py) runs the server in a thread; routes live per area (routes_auth, routes_directory,
routes_passkeys, routes_admin); tenant.py holds the directory, seed.py fills it deterministically,
tokens.py issues and checks tokens, verify.py checks passkey registrations, faults.py injects failures,
certs.py makes the TLS and client certificates, codec.py the base64 forms Graph uses.

POST fido2Methods refusals answer 400 ``invalidRequest`` with these messages (clients match on words):
"…AAGUID … is not allowed by the FIDO2 key restriction policy", "The attestation is not trusted…",
"The attestation signature is invalid", "The challenge has expired…", "The challenge is unknown or has
already been used", "The challenge is invalid: it was not issued for this user", "This security key
credential is already registered", "…requires 'Allow self-service setup'…", "The user is not targeted by the
FIDO2 authentication method policy", "clientDataJSON origin … does not match https://login.microsoft.com",
"Invalid property 'rawId' in publicKeyCredential", "User verification is required…".
"""

from station_emulator.entra.server import EmulatorInfo, EntraEmulator, LoggedRequest

__all__ = ["EmulatorInfo", "EntraEmulator", "LoggedRequest"]
