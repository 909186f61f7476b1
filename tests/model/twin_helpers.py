"""Shared builders for the twin tests (imported by the test modules of this folder)."""

from __future__ import annotations

from collections.abc import Sequence

from hipec.model import Event, Patient, Twin


def standard_events(
    twin: Twin, dose_mg_per_m2: dict[str, float], litres_per_m2: float = 2.0
) -> list[Event]:
    """Fill to ``litres_per_m2`` of total perfusate (circuit included) at 42 C and dose into the
    reservoir at t = 0, for every patient of the twin."""
    bsa = [patient.body_surface_area_m2 for patient in twin.model.patients]
    fill = tuple(
        litres_per_m2 * area - volume
        for area, volume in zip(bsa, twin.perfusate_volume_l, strict=True)
    )
    events = [Event(0.0, "fill", fill, "abdomen", temperature_c=42.0)]
    for drug, dose in dose_mg_per_m2.items():
        events.append(
            Event(0.0, "dose", tuple(dose * area for area in bsa), "reservoir", drug=drug)
        )
    return events


def make_twin(
    drugs: Sequence[str] = ("oxaliplatin",),
    technique: str = "closed",
    patients: Sequence[Patient] | None = None,
    **kwargs: object,
) -> Twin:
    """A twin for a 170 cm / 70 kg patient unless told otherwise."""
    return Twin.create(patients or [Patient(170.0, 70.0)], drugs, technique, **kwargs)  # type: ignore[arg-type]
