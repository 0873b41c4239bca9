"""Prompt files: model, parsing, validation, sandboxed rendering."""
