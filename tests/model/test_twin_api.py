"""The step API, events and the refusals of bad input."""

import math

import numpy as np
import pytest
from twin_helpers import make_twin

from hipec.errors import InvalidInputError, NotFoundError
from hipec.model import (
    CatheterPlacement,
    Commands,
    Event,
    Patient,
    Twin,
    event_table,
    simple_heater_rule,
    simulate,
)


def test_initial_state_is_physical(patient: Patient) -> None:
    twin = Twin.create(patient, ["MMC"])
    assert twin.model.drugs == ("mitomycin C",)
    assert twin.core_temperature_c[0] == pytest.approx(36.5)
    assert twin.inflow_temperature_c[0] == pytest.approx(37.0)
    np.testing.assert_allclose(twin.wall_temperature_c, 36.5)
    assert twin.perfusate_volume_l[0] == pytest.approx(1.1 + 0.1)  # primed circuit + residual
    assert "Pennes HH" in twin.citations() and "Van der Speeten" in twin.citations()


def test_step_heats_and_pumps_move_fluid(patient: Patient) -> None:
    twin = Twin.create(patient)
    twin.apply_event(Event(0.0, "fill", 2.0, "reservoir", temperature_c=40.0))
    twin.step(Commands(heater_power_w=10_000.0, inflow_l_min=2.0, outflow_l_min=0.0), 30.0)
    assert twin.last_commands.heater_power_w[0] == 3000.0  # clipped to the heater's limit
    assert twin.abdominal_volume_l[0] == pytest.approx(0.1 + 1.0)
    assert twin.reservoir_volume_l[0] == pytest.approx(0.4 + 2.0 - 1.0)
    assert twin.heater_temperature_c[0] > twin.reservoir_temperature_c[0]
    assert twin.time_s == 30.0


def test_pumps_cannot_run_the_reservoir_or_abdomen_dry(patient: Patient) -> None:
    twin = Twin.create(patient)
    twin.step(Commands(inflow_l_min=5.0, outflow_l_min=0.0), 60.0)
    assert twin.reservoir_volume_l[0] == pytest.approx(0.2)  # stopped at the minimum
    twin.step(Commands(inflow_l_min=0.0, outflow_l_min=5.0), 60.0)
    assert twin.abdominal_volume_l[0] == pytest.approx(0.1)


def test_dose_targets_and_drain_rinse(patient: Patient) -> None:
    twin = Twin.create(patient, ["oxaliplatin", "cisplatin"])
    twin.apply_event(Event(0.0, "fill", 3.0, "abdomen"))
    twin.apply_event(Event(0.0, "dose", 100.0, "Pelvis", drug="oxaliplatin"))
    twin.apply_event(Event(0.0, "dose", 50.0, "abdomen", drug="cisplatin"))
    regions = twin.region_concentration_mg_l[0]
    assert regions[0, 6] > 0.0 and regions[0].sum() == pytest.approx(regions[0, 6])
    assert np.ptp(regions[1]) == pytest.approx(0.0, abs=1e-12)  # spread by volume share
    twin.apply_event(Event(0.0, "rinse", 3.0, "abdomen"))
    assert twin.abdominal_volume_l[0] == pytest.approx(3.1)
    assert twin.drug_ledger()["drained [mg]"][0, 1] == pytest.approx(50.0 * 3.0 / 6.1)
    twin.apply_event(Event(0.0, "drain", math.inf, "abdomen"))
    assert twin.abdominal_volume_l[0] == pytest.approx(0.1)


def test_event_table_rows_and_refusals() -> None:
    rows = [
        {"time_s": 60, "kind": "dose", "amount": 10, "target": "reservoir", "drug": "MMC"},
        {"time_s": 0, "kind": "fill", "amount": [2.0, 3.0], "temperature_c": 42},
    ]
    events = event_table(rows)
    assert [event.kind for event in events] == ["fill", "dose"]
    assert events[0].amount == (2.0, 3.0)
    with pytest.raises(InvalidInputError, match=r"events\[0\].amount"):
        event_table([{"time_s": 0, "kind": "fill", "amount": -1}])
    with pytest.raises(InvalidInputError, match=r"events\[0\]: missing column 'kind'"):
        event_table([{"time_s": 0, "amount": 1}])
    with pytest.raises(InvalidInputError, match="unknown columns"):
        event_table([{"time_s": 0, "kind": "fill", "amount": 1, "volume": 2}])
    for bad, field in [
        (dict(time_s=-1.0, kind="fill", amount=1.0), "time_s"),
        (dict(time_s=0.0, kind="flush", amount=1.0), "kind"),
        (dict(time_s=0.0, kind="dose", amount=1.0), "drug"),
        (dict(time_s=0.0, kind="fill", amount=1.0, target="Pelvis"), "target"),
        (dict(time_s=0.0, kind="rinse", amount=1.0, target="reservoir"), "target"),
        (dict(time_s=0.0, kind="fill", amount=1.0, temperature_c=80.0), "temperature_c"),
        (dict(time_s=0.0, kind="fill", amount=math.inf), "amount"),
    ]:
        with pytest.raises(InvalidInputError) as caught:
            Event(**bad)  # type: ignore[arg-type]
        assert caught.value.field == field


def test_refusals(patient: Patient) -> None:
    twin = Twin.create(patient)
    with pytest.raises(InvalidInputError, match="dt_s"):
        twin.step(Commands(), 0.0)
    with pytest.raises(InvalidInputError, match="inflow_l_min"):
        twin.step(Commands(inflow_l_min=-1.0), 1.0)
    with pytest.raises(InvalidInputError, match="heater_power_w"):
        twin.step(Commands(heater_power_w=float("nan")), 1.0)
    with pytest.raises(InvalidInputError, match="drug"):
        twin.apply_event(Event(0.0, "dose", 1.0, "reservoir", drug="cisplatin"))
    with pytest.raises(NotFoundError):
        twin.apply_event(Event(0.0, "dose", 1.0, "reservoir", drug="aspirin"))
    with pytest.raises(InvalidInputError, match="region"):
        twin.apply_event(Event(0.0, "dose", 1.0, "Left knee", drug="oxaliplatin"))
    with pytest.raises(InvalidInputError, match="amount"):
        twin.apply_event(Event(0.0, "fill", (1.0, 2.0), "abdomen"))
    with pytest.raises(InvalidInputError, match="height_cm"):
        Patient(20.0, 70.0)
    with pytest.raises(InvalidInputError, match="core_temperature_c"):
        Patient(170.0, 70.0, core_temperature_c=45.0)
    with pytest.raises(InvalidInputError, match="inflow_regions"):
        CatheterPlacement((13,), (6,))
    with pytest.raises(InvalidInputError, match="drain_regions"):
        CatheterPlacement((1,), ())
    with pytest.raises(InvalidInputError, match="technique"):
        Twin.create(patient, technique="laparoscopic")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="patients"):
        Twin.create([])
    with pytest.raises(InvalidInputError, match="drugs"):
        Twin.create(patient, ["MMC", "mitomycin C"])
    with pytest.raises(InvalidInputError, match="integrator"):
        Twin(twin.model, "euler")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="setpoint_c"):
        simple_heater_rule(60.0, 2.0)
    with pytest.raises(InvalidInputError, match="duration_s"):
        simulate(twin, 0.0)
    with pytest.raises(InvalidInputError, match="record_every"):
        simulate(twin, 10.0, record_every=0)


def test_events_fire_at_their_step_boundary() -> None:
    twin = make_twin()
    events = [Event(0.0, "fill", 2.0, "abdomen"), Event(95.0, "dose", 100.0, drug="oxaliplatin")]
    trajectory = simulate(twin, 200.0, 10.0, events, Commands(inflow_l_min=1.0))
    dosed_at = trajectory.time_s[np.argmax(trajectory.fraction_remaining[:, 0, 0] > 0)]
    assert dosed_at == 100.0


@pytest.mark.parametrize("duplicate", ["deepcopy", "pickle"])
def test_a_copied_twin_steps_like_the_original(patient: Patient, duplicate: str) -> None:
    # the fault campaign forks runs by deep copy; worker processes receive twins by pickle
    import copy
    import pickle

    twin = Twin.create(patient, ["MMC"])
    twin.apply_event(Event(0.0, "fill", 2.0, "abdomen", temperature_c=42.0))
    twin.apply_event(Event(0.0, "dose", 50.0, "reservoir", drug="MMC"))
    commands = Commands(heater_power_w=1500.0, inflow_l_min=1.5)
    for _ in range(3):
        twin.step(commands, 1.0)  # an odd number of steps: the step buffers are swapped
    fork = copy.deepcopy(twin) if duplicate == "deepcopy" else pickle.loads(pickle.dumps(twin))
    for _ in range(20):
        twin.step(commands, 1.0)
        fork.step(commands, 1.0)
    assert twin.thermal[0, 0] != 0.0
    np.testing.assert_array_equal(fork.thermal, twin.thermal)
    np.testing.assert_array_equal(fork.drug, twin.drug)
