"""Benchmark harness: each case measures the product and a ceiling in the same run and prints the ratio."""
