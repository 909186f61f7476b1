"""The stepping machinery: patients with identical inputs share propagators exactly."""

import numpy as np
import pytest
from twin_helpers import make_twin, standard_events

from hipec.errors import InvalidInputError
from hipec.model import Commands, Patient, simple_heater_rule, simulate


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
    with pytest.raises(InvalidInputError, match="heater_power_w"):
        twin.step(Commands(heater_power_w=np.array([100.0, np.nan])), 1.0)
    with pytest.raises(InvalidInputError, match="cooling_w"):
        twin.step(Commands(cooling_w=np.array([1.0, 2.0, 3.0])), 1.0)
    with pytest.raises(InvalidInputError, match="inflow_l_min"):
        twin.step(Commands(inflow_l_min=np.inf), 1.0)
