"""Clinical scores and criteria: plain functions and small frozen dataclasses."""
