"""Fixtures for the twin tests."""

from __future__ import annotations

import os

# the twin's matrices are small: BLAS threads only contend on a busy machine (set before numpy
# loads when this folder runs on its own)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest

from hipec.model import Patient


@pytest.fixture
def patient() -> Patient:
    return Patient(170.0, 70.0)
