"""Energy and every drug's mass are conserved: the ledgers close for a busy procedure."""

import functools
import math

import numpy as np
from twin_helpers import make_twin, standard_events

from hipec.model import Commands, Event, Patient, simulate


@functools.cache
def busy_run(technique: str):  # type: ignore[no-untyped-def]
    twin = make_twin(
        ("mitomycin C", "cisplatin"),
        technique,
        patients=[Patient(170.0, 70.0), Patient(185.0, 95.0, core_temperature_c=35.8)],
    )
    events = [
        *standard_events(twin, {"mitomycin C": 17.5, "cisplatin": 50.0}),
        Event(600.0, "dose", 10.0, "Pelvis", drug="mitomycin C"),
        Event(900.0, "drain", 0.5, "abdomen"),
        Event(1000.0, "fill", 0.5, "reservoir", temperature_c=45.0),
        Event(1500.0, "drain", math.inf, "abdomen"),
        Event(1500.0, "rinse", 1.0, "abdomen", temperature_c=37.0),
    ]

    def commands(twin):  # type: ignore[no-untyped-def]
        # unbalanced pumps for a while, heater and cooling on
        unbalanced = 300.0 <= twin.time_s < 320.0
        return Commands(
            heater_power_w=2500.0 if twin.time_s < 400 else 400.0,
            inflow_l_min=1.5,
            outflow_l_min=2.5 if unbalanced else None,
            cooling_w=50.0,
        )

    simulate(twin, 1800.0, 2.0, events, commands, record_every=50)
    return twin


def test_ledgers_close_closed_and_open() -> None:
    for technique in ("closed", "open"):
        twin = busy_run(technique)
        energy = twin.energy_ledger()
        relative = np.abs(energy["imbalance [J]"]) / energy["throughput [J]"]
        assert np.all(relative < 1e-6), relative  # requirement: 0.1 %
        assert np.all(energy["heater input [J]"] > 0.0)
        assert np.all(energy["drained and evaporated enthalpy [J]"] != 0.0)
        drugs = twin.drug_ledger()
        assert np.all(np.abs(drugs["imbalance [mg]"]) < 1e-6 * drugs["dosed [mg]"])
        assert np.all(drugs["drained [mg]"] > 0.0)
        assert np.all(drugs["urine [mg]"] > 0.0)
        assert np.all(drugs["tissue [mg]"] > 0.0)
        if technique == "open":
            assert np.all(twin.evaporated_l > 0.0)


def test_circuit_holds_drug_after_drain() -> None:
    twin = busy_run("closed")
    ledger = twin.drug_ledger()
    # the abdomen was drained, the primed circuit still holds perfusate and its drug
    assert np.all(ledger["circuit [mg]"] > 0.0)
    assert np.all(ledger["perfusate [mg]"] >= ledger["circuit [mg]"])
