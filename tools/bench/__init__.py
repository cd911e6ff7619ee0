"""Measure time, memory and instruction counts."""
