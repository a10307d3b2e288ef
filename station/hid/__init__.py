"""Key discovery: USB hidraw, NFC readers through PC/SC, and virtual keys, each yielding KeyCandidates."""
