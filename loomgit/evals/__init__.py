"""Evaluation: test suites, assertions, gates, the runner and comparisons."""
