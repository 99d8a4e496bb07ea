"""Pairwise and setwise methods: PRP, setwise, duoT5, reasoning setwise."""
