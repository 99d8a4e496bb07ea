"""Helpers several method families share: answer tokens, FIRST's first-token reading, thinking within a budget,
heap selection."""
