"""The judging page and the arena (`rankwise judge serve`)."""
