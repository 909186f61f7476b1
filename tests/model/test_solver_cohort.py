"""Cohort machinery: the deferred system builder, a family built in parts, and twins taking their
propagators from the systems the cohort's family visited."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import scipy.linalg
from twin_helpers import make_twin, standard_events

from hipec.model import Patient, PropagatorFamily, Twin, simple_heater_rule, simulate
from hipec.model.state import FloatArray, LinearSystemBuilder
from hipec.model.system import TwinModel

_DRUGS = ("oxaliplatin", "mitomycin C")
_DOSES = {"oxaliplatin": 460.0, "mitomycin C": 35.0}


@pytest.mark.parametrize("batch", [(5,), (4, 2)])
def test_deferred_builder_equals_adding_every_transfer_in_place(batch: tuple[int, ...]) -> None:
    """Transfers recorded and summed on first read of ``A`` give the same ``A``, bit for bit, as
    adding each in place in the same order (repeated entries, scalar and batched rates)."""
    rng = np.random.default_rng(7)
    size = 9
    builder = LinearSystemBuilder(batch, size, 3)
    expected = np.zeros((*batch, size, size))
    for _ in range(300):
        source, target = (int(i) for i in rng.integers(0, size, 2))
        rate: float | FloatArray
        if rng.random() < 0.3:
            rate = float(rng.random())
        else:
            rate = builder.per_patient(rng.random(batch[0]) * 10.0 ** rng.integers(-6, 3))
            if len(batch) > 1 and rng.random() < 0.5:
                rate = rng.random(batch)  # per drug as well
        builder.transfer(source, target, rate)
        expected[..., target, source] += rate
        expected[..., source, source] -= rate
    np.testing.assert_array_equal(builder.A, expected)
    builder.transfer(0, 1, 0.5)  # read again after more terms: added on top
    expected[..., 1, 0] += 0.5
    expected[..., 0, 0] -= 0.5
    np.testing.assert_array_equal(builder.A, expected)


def _cohort(n: int, heights: tuple[float, float], weights: tuple[float, float]) -> list[Patient]:
    rng = np.random.default_rng(11)
    return [
        Patient(float(h), float(w))
        for h, w in zip(rng.uniform(*heights, n), rng.uniform(*weights, n), strict=True)
    ]


def _cohort_twin(patients: list[Patient], technique: str = "closed") -> Twin:
    twin = make_twin(_DRUGS, technique, patients=patients)
    for event in standard_events(twin, _DOSES):
        twin.apply_event(event)
    return twin


def _family(patients: list[Patient], **options: object) -> PropagatorFamily:
    twin = _cohort_twin(patients)
    rule = simple_heater_rule(43.0, 2.0)
    return PropagatorFamily.for_twin(twin, rule(twin), 30.0, **options)  # type: ignore[arg-type]


def test_a_family_built_in_parts_equals_one_built_at_once() -> None:
    """Thermal and drug grids built apart (with the grid exponentials computed by the caller)
    and joined are the grids of one build."""
    patients = _cohort(96, (165.0, 175.0), (65.0, 75.0))
    whole = _family(patients)
    calls: list[int] = []

    def counted(stack: FloatArray) -> FloatArray:
        calls.append(stack.shape[0])
        return np.asarray(scipy.linalg.expm(stack))

    joined = _family(patients, drugs=False, exponentials=counted)
    assert joined.grids == 1 and calls
    joined.extend(_family(patients, thermal=False))
    assert joined.grids == whole.grids == 1 + len(_DRUGS)
    for ours, theirs in zip(joined._thermal, whole._thermal, strict=True):
        np.testing.assert_allclose(ours.maps, theirs.maps, rtol=0, atol=1e-13)
    for (index, step, ours_drug), (their_index, _, theirs_drug) in zip(
        joined._drug, whole._drug, strict=True
    ):
        assert (index, step) == (their_index, 30.0)
        np.testing.assert_allclose(ours_drug.exponentials, theirs_drug.exponentials, atol=1e-15)


def _run_parts(
    patients: list[Patient], size: int, family: PropagatorFamily
) -> list[tuple[Twin, FloatArray, FloatArray]]:
    """Twins of ``size`` consecutive patients through 15 min; their final propagators."""
    runs = []
    for start in range(0, len(patients), size):
        twin = make_twin(_DRUGS, patients=patients[start : start + size], propagators=family)
        events = standard_events(twin, _DOSES)
        trajectory = simulate(twin, 900.0, 30.0, events, simple_heater_rule(43.0, 2.0))
        assert twin._last_propagators is not None
        maps = twin._last_propagators[3]
        runs.append((twin, maps.thermal, maps.drug))
        assert np.all(np.isfinite(trajectory.core_temperature_c))
    return runs


def _counting_systems(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the thermal systems built (of any model) from now on."""
    built: list[int] = []
    original: Callable[..., tuple[FloatArray, FloatArray]] = TwinModel.thermal_system

    def counted(self: TwinModel, *args: FloatArray) -> tuple[FloatArray, FloatArray]:
        built.append(self.n_patients)
        return original(self, *args)

    monkeypatch.setattr(TwinModel, "thermal_system", counted)
    return built


def test_twins_of_visited_patients_take_their_propagators_without_building_systems(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Parts of the cohort whose systems the family visited get the propagators of the checked
    path (systems built and checked against the family) to round-off, and those of exact
    exponentials to the family's accuracy, without building a system."""
    patients = _cohort(96, (165.0, 175.0), (65.0, 75.0))
    visited = _family(patients)
    checked = _family(patients)
    checked._visited.clear()  # the checked path only
    built = _counting_systems(monkeypatch)
    fast = _run_parts(patients, 16, visited)
    assert built == []  # no system of any twin was built
    assert (visited.served, visited.declined) == (len(fast) * (1 + len(_DRUGS)), 0)
    slow = _run_parts(patients, 16, checked)
    assert built  # the checked path builds them
    exact_twin = make_twin(_DRUGS, patients=patients, interpolate_propagators=False)
    rule = simple_heater_rule(43.0, 2.0)
    simulate(exact_twin, 900.0, 30.0, standard_events(exact_twin, _DOSES), rule)
    assert exact_twin._last_propagators is not None
    exact = exact_twin._last_propagators[3]
    for part, ((_, thermal, drug), (_, thermal_checked, drug_checked)) in enumerate(
        zip(fast, slow, strict=True)
    ):
        rows = slice(16 * part, 16 * part + 16)
        for ours, checked_maps, exact_maps in (
            (thermal, thermal_checked, exact.thermal[rows]),
            (drug, drug_checked, exact.drug[rows]),
        ):
            scale = np.abs(exact_maps).max()
            np.testing.assert_allclose(ours, checked_maps, rtol=0, atol=1e-14 * scale)
            np.testing.assert_allclose(ours, exact_maps, rtol=0, atol=1e-12 * scale)


def test_visited_systems_serve_only_the_same_systems() -> None:
    """Another technique, step or patient (same sizes otherwise) is not taken from the visited
    systems: those twins take the checked path."""
    patients = _cohort(96, (165.0, 175.0), (65.0, 75.0))
    family = _family(patients)
    cohort = _cohort_twin(patients[:8])
    flows = np.full(8, 2.0 / 60.0)
    columns = [cohort.reservoir_volume_l, cohort.abdominal_volume_l, flows, flows]
    assert family.visited(cohort.model, columns, 30.0) is not None
    assert family.visited(cohort.model, columns, 10.0) is None  # another step
    other_volume = [columns[0], columns[1] * (1.0 + 1e-12), *columns[2:]]
    assert family.visited(cohort.model, other_volume, 30.0) is None
    opened = _cohort_twin(patients[:8], "open")
    assert family.visited(opened.model, columns, 30.0) is None  # another technique
    warmer = [Patient(p.height_cm, p.weight_kg, core_temperature_c=37.5) for p in patients[:8]]
    assert family.visited(_cohort_twin(warmer).model, columns, 30.0) is None  # other inputs
    # the one look-up that served counted its parts; the others counted nothing
    assert (family.served, family.declined) == (1 + len(_DRUGS), 0)
