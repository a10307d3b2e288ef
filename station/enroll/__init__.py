"""The enrolment engine: one session per inserted key (a state machine over a write-ahead journal), policy,
PIN generation and escrow, prefetched creation options and start-up reconciliation.

``Engine`` (engine.py) is what the daemon wires up; it reaches the store and Entra only through the
Protocols in ports.py, and the keys through python-fido2 on the devices a ``KeyCandidate`` opens.
Importing this package imports none of them: a command that needs only ``ports`` or ``escrow`` does not
load the engine, its sessions and python-fido2.
"""
