"""Sub-command modules of the `station` CLI; each exposes ``register(subparsers)``."""
