"""The fast fixed-step path agrees with the solve_ivp (BDF) reference on the same equations."""

import numpy as np
from twin_helpers import make_twin, standard_events

from hipec.model import Commands, Event, metrics, simple_heater_rule, simulate


def run_both(technique: str, duration_s: float, dt_s: float, commands, extra=()):  # type: ignore[no-untyped-def]
    results = []
    for integrator in ("exact", "reference"):
        twin = make_twin(("oxaliplatin",), technique, integrator=integrator)
        events = [*standard_events(twin, {"oxaliplatin": 460.0}), *extra]
        results.append(simulate(twin, duration_s, dt_s, events, commands))
    return results


def assert_agree(fast, reference) -> None:  # type: ignore[no-untyped-def]
    for name in ("region_temperature_c", "inflow_temperature_c", "core_temperature_c"):
        difference = np.abs(getattr(fast, name) - getattr(reference, name)).max()
        assert difference <= 0.05, (name, difference)
    for name in ("perfusate_concentration_mg_l", "plasma_concentration_mg_l"):
        fast_auc = metrics.auc_mg_min_per_l(fast.time_s, getattr(fast, name))
        ref_auc = metrics.auc_mg_min_per_l(reference.time_s, getattr(reference, name))
        np.testing.assert_allclose(fast_auc, ref_auc, rtol=0.01)


def test_heating_transient_with_controller_in_the_loop() -> None:
    fast, reference = run_both("closed", 90.0, 1.0, simple_heater_rule(43.0, 2.0))
    assert fast.inflow_temperature_c[-1, 0] > 39.0  # the transient is really exercised
    assert_agree(fast, reference)


def test_unbalanced_pumps_and_open_abdomen() -> None:
    commands = Commands(heater_power_w=1500.0, inflow_l_min=2.0, outflow_l_min=1.0)
    extra = [Event(20.0, "dose", 50.0, 6, drug="oxaliplatin")]
    fast, reference = run_both("open", 40.0, 2.0, commands, extra)
    assert fast.abdominal_volume_l[-1, 0] > fast.abdominal_volume_l[1, 0]
    assert_agree(fast, reference)
