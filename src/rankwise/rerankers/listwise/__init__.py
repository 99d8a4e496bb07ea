"""Listwise methods: sliding windows (generation and FIRST), FiD, reasoning, JointRank blocks, groupwise, ICR."""
