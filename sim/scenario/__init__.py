"""Scenario files: the schema (defaults and bounds) and the safe loader."""
