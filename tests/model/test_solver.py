"""The stepping machinery: patients with identical inputs share propagators exactly."""

import numpy as np
import pytest
import scipy.linalg
from twin_helpers import make_twin, standard_events

from hipec.errors import InvalidInputError
from hipec.model import (
    Commands,
    Patient,
    PropagatorFamily,
    Trajectory,
    Twin,
    _parametric,
    simple_heater_rule,
    simulate,
    simulation,
    solver,
)


def run(patients, dt_s=10.0, technique="closed"):  # type: ignore[no-untyped-def]
    twin = make_twin(("oxaliplatin",), technique, patients=patients)
    events = standard_events(twin, {"oxaliplatin": 460.0})
    trajectory = simulate(twin, 1200.0, dt_s, events, simple_heater_rule(43.0, 2.0))
    return twin, trajectory


@pytest.mark.parametrize(
    "order",
    [
        [0, 0, 1, 0],  # few groups: one matrix product per group, scattered rows
        [0, 0, 0, 1, 1, 1],  # contiguous groups: stepped in place
        [0, 1, 2],  # every patient distinct
    ],
)
def test_shared_propagators_match_single_runs(order: list[int]) -> None:
    sizes = [Patient(170.0, 70.0), Patient(185.0, 95.0), Patient(155.0, 50.0)]
    twin, together = run([sizes[index] for index in order])
    groups = len(set(order))
    assert len(np.unique(twin.model.patient_class)) == groups
    for column, index in enumerate(order):
        _, alone = run([sizes[index]])
        np.testing.assert_allclose(
            together.region_temperature_c[:, column], alone.region_temperature_c[:, 0], atol=1e-9
        )
        np.testing.assert_allclose(
            together.plasma_concentration_mg_l[:, column],
            alone.plasma_concentration_mg_l[:, 0],
            rtol=1e-9,
            atol=1e-12,
        )
    ledger = twin.drug_ledger()
    assert np.all(np.abs(ledger["imbalance [mg]"]) < 1e-6 * ledger["dosed [mg]"])


def test_open_abdomen_evaporates_on_schedule() -> None:
    twin, trajectory = run([Patient(170.0, 70.0)], dt_s=5.0, technique="open")
    rate_l_s = 0.02 / 60.0 * 0.06  # default water loss [L/(min.m2)] x opening [m2]
    expected = rate_l_s * 1200.0
    # lumps of 10 mL: what is removed lags the accrued water by less than one lump
    assert expected - 0.0100001 <= twin.evaporated_l[0] <= expected + 1e-9
    assert np.all(np.diff(trajectory.abdominal_volume_l[1:, 0]) <= 1e-12)


def test_commands_are_checked_per_patient() -> None:
    twin = make_twin(patients=[Patient(170.0, 70.0), Patient(180.0, 80.0)])
    twin.step(Commands(heater_power_w=np.array([100.0, 5000.0]), inflow_l_min=1.0), 1.0)
    np.testing.assert_allclose(twin.last_commands.heater_power_w, [100.0, 3000.0])
    for bad in (np.nan, np.inf, -1.0):
        with pytest.raises(InvalidInputError, match="heater_power_w"):
            twin.step(Commands(heater_power_w=np.array([100.0, bad])), 1.0)
    with pytest.raises(InvalidInputError, match="cooling_w"):
        twin.step(Commands(cooling_w=np.array([1.0, 2.0, 3.0])), 1.0)
    with pytest.raises(InvalidInputError, match="inflow_l_min"):
        twin.step(Commands(inflow_l_min=np.inf), 1.0)


def test_recording_whole_states_equals_recording_selected_outputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A small run (whole state vectors recorded, outputs selected at the end) records what a
    large one (outputs selected at every sample) does."""
    patients = [Patient(170.0, 70.0), Patient(160.0, 90.0)]
    _, whole = run(patients, dt_s=30.0)
    monkeypatch.setattr(simulation, "_WHOLE_STATE_BYTES", 0)
    _, selected = run(patients, dt_s=30.0)
    for name in ("fraction_absorbed", "fraction_remaining", "fraction_urine",
                 "plasma_concentration_mg_l", "region_concentration_mg_l", "core_temperature_c",
                 "region_temperature_c", "inflow_temperature_c"):  # fmt: skip
        np.testing.assert_allclose(
            getattr(whole, name), getattr(selected, name), rtol=1e-13, atol=1e-15
        )


def test_chunked_exponentials_equal_one_patient_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batched zero-order-hold propagators (chunks, reused buffer, scaled input columns)
    equal ``expm([[A, B], [0, 0]] dt)`` and ``expm(A_drug dt)`` taken one patient at a time."""
    sizes = [Patient(150.0 + 9.0 * k, 50.0 + 13.0 * k) for k in range(5)]
    twin = make_twin(("oxaliplatin", "mitomycin C"), patients=sizes)
    for event in standard_events(twin, {"oxaliplatin": 460.0, "mitomycin C": 35.0}):
        twin.apply_event(event)
    flow = np.full(5, 2.0 / 60.0)
    args = (twin.reservoir_volume_l, twin.abdominal_volume_l, flow, flow)
    a_thermal, b_thermal = twin.model.thermal_system(*args)
    a_drug = twin.model.drug_system(*args)
    dt_s = 30.0
    monkeypatch.setattr(solver, "_EXPM_CHUNK", 2)  # 5 patients: chunks of 2, 2 and 1
    thermal, drug = solver._exponentials(a_thermal, b_thermal, a_drug, dt_s)
    size = a_thermal.shape[1]
    for patient in range(5):
        augmented = np.zeros((size + 3, size + 3))
        augmented[:size, :size] = a_thermal[patient]
        augmented[:size, size:] = b_thermal[patient]
        expected = scipy.linalg.expm(augmented * dt_s)[:size]
        np.testing.assert_allclose(thermal[patient], expected, rtol=1e-10, atol=1e-12)
        for index in range(2):
            np.testing.assert_allclose(
                drug[patient, index],
                scipy.linalg.expm(a_drug[patient, index] * dt_s),
                rtol=1e-10,
                atol=1e-14,
            )


def test_trajectory_records_the_applied_commands() -> None:
    twin = make_twin(patients=[Patient(170.0, 70.0), Patient(185.0, 95.0)])
    events = standard_events(twin, {"oxaliplatin": 460.0})
    rule = simple_heater_rule(43.0, 2.5, 4000.0)
    asked: list[np.ndarray] = []

    def recorded_rule(current: Twin) -> Commands:
        commands = rule(current)
        asked.append(np.asarray(commands.heater_power_w))
        return commands

    trajectory = simulate(twin, 300.0, 10.0, events, recorded_rule)
    assert np.all(trajectory.heater_power_w[0] == 0.0)
    applied = np.minimum(np.array(asked), 3000.0)  # clipped to the heater's limit
    assert applied.max() == 3000.0 and np.unique(applied).size > 3  # clipped and varying
    np.testing.assert_array_equal(trajectory.heater_power_w[1:], applied)
    np.testing.assert_allclose(trajectory.inflow_l_min[1:], 2.5, rtol=1e-15)


def _family(rank: int, groups: int = 64, size: int = 6) -> np.ndarray:
    """Stable matrices ``M_0 + sum_i theta_i V_i`` with ``rank`` random parameters."""
    rng = np.random.default_rng(rank)
    base = -np.eye(size) * 2.0 + 0.3 * rng.standard_normal((size, size))
    directions = 0.05 * rng.standard_normal((rank, size, size))
    theta = rng.uniform(-1.0, 1.0, (groups, rank))
    return base + np.einsum("gr,rij->gij", theta, directions)


@pytest.mark.parametrize("rank", [0, 1, 2])
def test_family_interpolation_equals_exact_exponentials(rank: int) -> None:
    matrices = _family(rank, groups=200)
    family = _parametric.family_expm(matrices, lambda stack: stack, matrices.shape[1])
    assert family is not None
    weights, grid = family
    assert grid.shape[0] < matrices.shape[0] // 2  # fewer exponentials than matrices
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-13)  # keeps conservation
    interpolated = np.tensordot(weights, grid, axes=1)
    np.testing.assert_allclose(interpolated, scipy.linalg.expm(matrices), rtol=0, atol=1e-12)


def test_family_interpolation_declines_when_it_cannot_be_exact() -> None:
    three = _family(3)
    assert _parametric.family_expm(three, lambda stack: stack, 6) is None  # too many parameters
    few = _family(1, groups=12)
    assert _parametric.family_expm(few, lambda stack: stack, 6) is None  # too few to pay


def test_interpolated_cohort_matches_exact_propagators() -> None:
    """Distinct body sizes: the twin interpolates its propagators over the body-size family and
    follows the exact per-patient propagators to round-off, ledgers closed."""
    rng = np.random.default_rng(5)
    n = 96
    heights, weights = rng.uniform(165.0, 175.0, n), rng.uniform(65.0, 75.0, n)
    sizes = [Patient(float(h), float(w)) for h, w in zip(heights, weights, strict=True)]
    runs = []
    for interpolate in (True, False):
        drugs = ("oxaliplatin", "mitomycin C")
        twin = make_twin(drugs, patients=sizes, interpolate_propagators=interpolate)
        events = standard_events(twin, {"oxaliplatin": 460.0, "mitomycin C": 35.0})
        runs.append((twin, simulate(twin, 900.0, 30.0, events, simple_heater_rule(43.0, 2.0))))
    (twin, fast), (_, exact) = runs
    assert twin._last_propagators is not None
    maps = twin._last_propagators[3]
    flow = np.full(n, 2.0 / 60.0)
    system = (twin.reservoir_volume_l, twin.abdominal_volume_l, flow, flow)
    a_thermal, b_thermal = twin.model.thermal_system(*system)
    a_drug = twin.model.drug_system(*system)
    exact_thermal, exact_drug = solver._exponentials(
        a_thermal, b_thermal, a_drug, 30.0, interpolate=False
    )
    size = a_thermal.shape[1]
    pairs = (
        (maps.thermal[..., :size], exact_thermal[..., :size]),  # Phi
        (maps.thermal[..., size:], exact_thermal[..., size:]),  # Gamma
        (maps.drug, exact_drug),
    )
    for interpolated, reference in pairs:
        assert not np.array_equal(interpolated, reference)  # the family path was taken ...
        tolerance = 1e-12 * np.abs(reference).max()
        np.testing.assert_allclose(interpolated, reference, rtol=0, atol=tolerance)  # ... exactly
    np.testing.assert_allclose(fast.region_temperature_c, exact.region_temperature_c, atol=1e-9)
    np.testing.assert_allclose(fast.core_temperature_c, exact.core_temperature_c, atol=1e-9)
    np.testing.assert_allclose(
        fast.plasma_concentration_mg_l, exact.plasma_concentration_mg_l, rtol=1e-9, atol=1e-12
    )
    energy, drug = twin.energy_ledger(), twin.drug_ledger()
    assert np.all(np.abs(energy["imbalance [J]"]) < 1e-7 * energy["throughput [J]"])
    assert np.all(np.abs(drug["imbalance [mg]"]) < 1e-7 * drug["dosed [mg]"])


def test_a_fitted_family_serves_any_part_of_its_batch_and_nothing_else() -> None:
    """:class:`_parametric.Family` built once interpolates a sub-batch exactly, and declines a
    matrix with another direction of variation or outside the grid's box."""
    matrices = _family(1, groups=200)
    fitted = _parametric.fit_family(matrices, lambda stack: stack, matrices.shape[1])
    assert fitted is not None
    family, all_weights = fitted
    part = matrices[37:45]
    weights = family.weights(part)
    assert weights is not None
    np.testing.assert_allclose(weights, all_weights[37:45], rtol=0, atol=1e-13)
    np.testing.assert_allclose(
        np.tensordot(weights, family.exponentials, axes=1),
        scipy.linalg.expm(part),
        rtol=0,
        atol=1e-12,
    )
    other_direction = part.copy()
    other_direction[:, 0, 1] += 1e-3
    assert family.weights(other_direction) is None
    step = family.directions[0].reshape(-1)
    beyond = part[:1].reshape(1, -1).copy()
    beyond[:, family.varying] += 2.0 * (family.high - family.low) * step
    assert family.weights(beyond.reshape(part[:1].shape)) is None


def _cohort(n: int, heights: tuple[float, float], weights: tuple[float, float]) -> list[Patient]:
    rng = np.random.default_rng(11)
    return [
        Patient(float(h), float(w))
        for h, w in zip(rng.uniform(*heights, n), rng.uniform(*weights, n), strict=True)
    ]


_DRUGS = ("oxaliplatin", "mitomycin C")
_DOSES = {"oxaliplatin": 460.0, "mitomycin C": 35.0}


def _family_of(patients: list[Patient], dt_s: float = 30.0) -> PropagatorFamily:
    """The cohort's family after the standard events, under the heater rule's flows."""
    cohort = make_twin(_DRUGS, patients=patients)
    for event in standard_events(cohort, _DOSES):
        cohort.apply_event(event)
    return PropagatorFamily.for_twin(cohort, simple_heater_rule(43.0, 2.0)(cohort), dt_s)


def _run_parts(
    patients: list[Patient], size: int, family: PropagatorFamily | None, dt_s: float = 30.0
) -> list[tuple[Twin, Trajectory]]:
    runs = []
    for start in range(0, len(patients), size):
        twin = make_twin(_DRUGS, patients=patients[start : start + size], propagators=family)
        events = standard_events(twin, _DOSES)
        rule = simple_heater_rule(43.0, 2.0)
        runs.append((twin, simulate(twin, 900.0, dt_s, events, rule)))
    return runs


def _assert_same_runs(parts: list[tuple[Twin, Trajectory]], exact: Trajectory) -> None:
    """Twins of consecutive patients follow one exact twin of all of them; ledgers closed."""
    for name in ("region_temperature_c", "core_temperature_c", "inflow_temperature_c"):
        joined = np.concatenate([getattr(run, name) for _, run in parts], axis=1)
        np.testing.assert_allclose(joined, getattr(exact, name), rtol=0, atol=1e-9)
    for name in ("plasma_concentration_mg_l", "perfusate_concentration_mg_l"):
        joined = np.concatenate([getattr(run, name) for _, run in parts], axis=1)
        np.testing.assert_allclose(joined, getattr(exact, name), rtol=1e-9, atol=1e-12)
    for twin, _ in parts:
        energy, drug = twin.energy_ledger(), twin.drug_ledger()
        assert np.all(np.abs(energy["imbalance [J]"]) < 1e-7 * energy["throughput [J]"])
        assert np.all(np.abs(drug["imbalance [mg]"]) < 1e-7 * drug["dosed [mg]"])


def test_sub_batches_sharing_a_cohort_family_match_one_exact_twin() -> None:
    """Twins of 16 patients too few to interpolate alone take their propagators from the family
    of the whole cohort (no exponential per patient) and follow one twin of exact per-patient
    propagators to round-off."""
    patients = _cohort(96, (165.0, 175.0), (65.0, 75.0))
    family = _family_of(patients)
    assert family.grids == 1 + len(_DRUGS)
    parts = _run_parts(patients, 16, family)
    assert (family.served, family.declined) == (len(parts) * (1 + len(_DRUGS)), 0)
    exact_twin = make_twin(_DRUGS, patients=patients, interpolate_propagators=False)
    events = standard_events(exact_twin, _DOSES)
    exact = simulate(exact_twin, 900.0, 30.0, events, simple_heater_rule(43.0, 2.0))
    _assert_same_runs(parts, exact)
    # the propagators really are interpolated: close to the exact ones, not equal
    twin = parts[0][0]
    assert twin._last_propagators is not None and exact_twin._last_propagators is not None
    shared, reference = twin._last_propagators[3], exact_twin._last_propagators[3]
    for interpolated, exact_maps in (
        (shared.thermal, reference.thermal[:16]),
        (shared.drug, reference.drug[:16]),
    ):
        assert not np.array_equal(interpolated, exact_maps)
        tolerance = 1e-12 * np.abs(exact_maps).max()
        np.testing.assert_allclose(interpolated, exact_maps, rtol=0, atol=tolerance)


@pytest.mark.parametrize("case", ["outside the box", "another step", "too few to fit"])
def test_twins_fall_back_to_exact_propagators_when_the_family_does_not_fit(case: str) -> None:
    """Patients outside the cohort's body sizes, another step, or a cohort too small to build a
    family: every part is declined and the twins take exact exponentials (same runs)."""
    cohort = _cohort(96, (165.0, 175.0), (65.0, 75.0))
    patients = _cohort(8, (185.0, 195.0), (100.0, 120.0)) if case == "outside the box" else cohort
    dt_s = 10.0 if case == "another step" else 30.0
    family = _family_of(cohort[:12] if case == "too few to fit" else cohort)
    assert family.grids == (0 if case == "too few to fit" else 1 + len(_DRUGS))
    parts = _run_parts(patients[:8], 8, family, dt_s)
    assert family.served == 0 and family.declined == 1 + len(_DRUGS)
    exact_twin = make_twin(_DRUGS, patients=patients[:8], interpolate_propagators=False)
    events = standard_events(exact_twin, _DOSES)
    exact = simulate(exact_twin, 900.0, dt_s, events, simple_heater_rule(43.0, 2.0))
    _assert_same_runs(parts, exact)


def test_a_family_added_from_systems_in_memory_serves_a_part_of_the_cohort() -> None:
    """:meth:`PropagatorFamily.add` (every patient's systems at hand) builds the same kind of
    grids as :meth:`PropagatorFamily.for_twin`; a part of the cohort then gets propagators equal
    to the exact ones to round-off."""
    patients = _cohort(96, (165.0, 175.0), (65.0, 75.0))
    cohort = make_twin(_DRUGS, patients=patients)
    for event in standard_events(cohort, _DOSES):
        cohort.apply_event(event)
    flow = np.full(96, 2.0 / 60.0)
    system = (cohort.reservoir_volume_l, cohort.abdominal_volume_l, flow, flow)
    a_thermal, b_thermal = cohort.model.thermal_system(*system)
    a_drug = cohort.model.drug_system(*system)
    family = PropagatorFamily()
    assert family.add(a_thermal, b_thermal, a_drug, 30.0)
    part = slice(40, 56)
    served = solver._exponentials(
        a_thermal[part], b_thermal[part], a_drug[part], 30.0, family=family
    )
    exact = solver._exponentials(
        a_thermal[part], b_thermal[part], a_drug[part], 30.0, interpolate=False
    )
    assert (family.served, family.declined) == (1 + len(_DRUGS), 0)
    for interpolated, reference in zip(served, exact, strict=True):
        tolerance = 1e-12 * np.abs(reference).max()
        np.testing.assert_allclose(interpolated, reference, rtol=0, atol=tolerance)
