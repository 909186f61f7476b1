"""Named parameter sets of the digital twin (values with units in their keys, and citations)."""

from hipec.model.parameters import abdomen, circuit, drugs, patient, thermal
from hipec.model.parameters.base import ParameterSet, Sourced

__all__ = ["ParameterSet", "Sourced", "abdomen", "circuit", "drugs", "patient", "thermal"]
