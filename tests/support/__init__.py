"""Harnesses shared by the test tiers: daemon processes, event recorders, store helpers only tests use."""
