"""Station: a hardware-key enrolment station for FIDO2 security keys and Microsoft Entra ID."""

__version__ = "0.1.0"
