"""Sourced values and named parameter sets (PyBaMM style: keys carry their units).

Every figure is a :class:`Sourced` value: the number, the citation key it comes from (see
:mod:`hipec.model.citations`), whether it was checked against that source, and a note. A
:class:`ParameterSet` is a named, immutable mapping ``"Name [unit]" -> Sourced`` that can print its
citations, list its unverified entries and be overridden (every value stays configurable).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from hipec.errors import InvalidInputError, NotFoundError
from hipec.model.citations import citation, format_citations


@dataclass(frozen=True)
class Sourced:
    """One parameter value with its provenance.

    Parameters
    ----------
    value
        The number, in the unit named by its key.
    source
        Citation key in :data:`hipec.model.citations.CITATIONS`.
    verified
        ``True`` only if the value was checked against the primary source.
    note
        How the value was obtained (derivation, conversion, calibration target).
    """

    value: float
    source: str
    verified: bool
    note: str = ""

    def __post_init__(self) -> None:
        citation(self.source)  # refuse unknown citation keys early


@dataclass(frozen=True)
class ParameterSet:
    """A named parameter set: ``"Quantity [unit]" -> Sourced``.

    Parameters
    ----------
    name
        Name of the set, e.g. ``"oxaliplatin"``.
    values
        The entries; keys end with their unit in brackets.
    """

    name: str
    values: Mapping[str, Sourced] = field(default_factory=dict)

    def __getitem__(self, key: str) -> float:
        return self.value(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def value(self, key: str) -> float:
        """The number stored under ``key`` [unit in the key].

        Raises
        ------
        NotFoundError
            If ``key`` is not in the set.
        """
        try:
            return self.values[key].value
        except KeyError:
            raise NotFoundError(
                f"{self.name} parameter", f"must be one of {sorted(self.values)}, got {key!r}"
            ) from None

    def citations(self) -> list[str]:
        """Citation keys the set relies on, in first-use order."""
        return list(dict.fromkeys(entry.source for entry in self.values.values()))

    def unverified(self) -> dict[str, Sourced]:
        """Entries not checked against a primary source."""
        return {key: entry for key, entry in self.values.items() if not entry.verified}

    def with_overrides(self, overrides: Mapping[str, float]) -> ParameterSet:
        """A copy with some values replaced (each marked as a user override, unverified).

        Raises
        ------
        InvalidInputError
            If a key is unknown or a value is not a finite number.
        """
        updated = dict(self.values)
        for key, number in overrides.items():
            if key not in self.values:
                raise NotFoundError(
                    f"{self.name} parameter", f"must be one of {sorted(self.values)}, got {key!r}"
                )
            if not isinstance(number, int | float) or not math.isfinite(float(number)):
                raise InvalidInputError(key, f"must be a finite number, got {number!r}")
            updated[key] = Sourced(float(number), "hipec-assumption", False, "user override")
        return ParameterSet(self.name, updated)

    def describe(self) -> str:
        """Human-readable listing: each value, its source key and verification state, then
        references."""
        lines = [f"Parameter set: {self.name}"]
        for key, entry in self.values.items():
            flag = "" if entry.verified else "  (unverified)"
            lines.append(f"  {key} = {entry.value:g}  [{entry.source}]{flag}")
        lines.append(format_citations(self.citations()))
        return "\n".join(lines)
