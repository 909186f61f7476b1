"""Fixtures for the twin tests."""

from __future__ import annotations

import pytest

from hipec.model import Patient


@pytest.fixture
def patient() -> Patient:
    return Patient(170.0, 70.0)
