"""Emulators Station runs against instead of hardware and a live tenant.

``key`` holds the virtual security key (a CTAP 2.1 authenticator and its CTAPHID, NFC and hidraw faces);
``entra`` holds the Entra ID / Microsoft Graph emulator. Used by ``station demo``, tests and benchmarks,
never by the production enrolment path.
"""
