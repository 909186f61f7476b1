"""The simulated machine: sensors, actuators, fluid paths and the effect of every fault."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hipec.devices.base import Command, DeviceInfo, PerfusionDevice, SimulatedDevice
from hipec.devices.faults import Fault
from hipec.devices.simulated import MachineConfig, SensorSpec, SimulatedPerfusionMachine
from hipec.errors import InvalidInputError
from hipec.model import Patient
from hipec.runner.threads import limit_blas_threads

limit_blas_threads()  # small matrices: one BLAS thread is much faster on a loaded machine

MMC = "mitomycin C"
QUIET = SensorSpec()  # no lag, noise, resolution or offset


def machine(
    technique: str = "open", faults: tuple[Fault, ...] = (), seed: int = 0, **config: object
) -> SimulatedPerfusionMachine:
    return SimulatedPerfusionMachine(
        Patient(170, 70),
        [MMC],
        technique,
        config=MachineConfig(**config),  # type: ignore[arg-type]
        faults=faults,
        seed=seed,
    )


def filled(
    technique: str = "open", faults: tuple[Fault, ...] = (), **config: object
) -> SimulatedPerfusionMachine:
    """Reservoir loaded with 2.5 L, 2.5 L pumped into the abdomen, then circulating at 1.5 L/min."""
    m = machine(technique, faults, **config)
    m.load_reservoir(2.5)
    m.apply(Command(0.0, 2.0, 0.0))
    for _ in range(75):
        m.advance(1.0)
    m.apply(Command(1000.0, 1.5, 1.5))
    m.advance(1.0)
    return m


def run(m: SimulatedPerfusionMachine, seconds: int, command: Command | None = None) -> None:
    if command is not None:
        m.apply(command)
    for _ in range(seconds):
        m.advance(1.0)


def test_implements_the_device_protocols_and_declares_the_twin_heater() -> None:
    m = machine()
    assert isinstance(m, PerfusionDevice) and isinstance(m, SimulatedDevice)
    assert isinstance(m.info, DeviceInfo)
    twin_limit = float(m.twin.model.circuit.heater_max_power_w[0])
    assert m.info.max_heater_power_w == pytest.approx(twin_limit)
    assert m.info.cavity_probe_regions == (0, 6, 3)
    assert m.circuit_volume_l == pytest.approx(1.1)


def test_config_refuses_fewer_than_three_probes() -> None:
    with pytest.raises(InvalidInputError):
        MachineConfig(cavity_probe_regions=(0, 6))
    with pytest.raises(InvalidInputError):
        MachineConfig(cavity_probe_regions=(0, 6, 13))


def test_sensors_are_reproducible_per_seed_noisy_quantised_and_offset() -> None:
    a, b, c = machine(seed=3), machine(seed=3), machine(seed=4)
    for m in (a, b, c):
        run(m, 20, Command(500.0, 1.0, 1.0))
    assert a.read() == b.read()
    assert a.read() != c.read()
    values = []
    for _ in range(30):
        a.advance(1.0)
        values.append(a.read().core_c)
        assert abs(a.read().inflow_c * 100 - round(a.read().inflow_c * 100)) < 1e-6  # 0.01 K steps
    assert np.std(values) > 0.0  # noise
    truth = a.ground_truth()
    assert abs(np.mean(values) - truth.core_c) < 0.5  # offset and noise are small


def test_first_order_lag_follows_a_step() -> None:
    spec = SensorSpec(time_constant_s=10.0)
    m = machine(temperature=spec, cavity=QUIET, core=QUIET)
    run(m, 30, Command(3000.0, 1.5, 1.5))
    truth, reading = m.ground_truth(), m.read()
    assert reading.inflow_c < truth.inflow_c - 0.5  # the probe lags the heating perfusate
    run(m, 200, Command(0.0, 1.5, 1.5))
    assert abs(m.read().inflow_c - m.ground_truth().inflow_c) < 0.3


def test_pumps_are_rate_limited_quantised_and_clamped() -> None:
    m = machine(flow=QUIET)
    run(m, 1, Command(0.0, 1.234, 1.234))
    assert m.read().inflow_l_per_min == pytest.approx(1.0)  # 1 L/min per s
    run(m, 1)
    assert m.read().inflow_l_per_min == pytest.approx(1.23)  # 0.01 L/min steps
    run(m, 1, Command(0.0, 9.0, 9.0, inflow_clamp_open=False))
    assert m.read().inflow_l_per_min == 0.0  # a closed clamp stops its line at once


def test_heater_delivers_the_command_within_the_twin_limit() -> None:
    m = machine()
    run(m, 1, Command(5000.0, 1.0, 1.0))
    assert m.read().heater_power_w == m.info.max_heater_power_w
    run(m, 1, Command(-5.0, 1.0, 1.0))
    assert m.read().heater_power_w == 0.0


def test_fill_moves_perfusate_and_keeps_volume_energy_and_drug_ledgers() -> None:
    m = filled()
    truth = m.ground_truth()
    assert truth.abdominal_volume_l == pytest.approx(0.1 + 2.5, abs=0.03)
    assert truth.reservoir_volume_l == pytest.approx(0.4, abs=0.03)
    run(m, 10)  # the level sensor lags 2 s
    assert m.read().reservoir_volume_l == pytest.approx(
        m.ground_truth().reservoir_volume_l, abs=0.02
    )
    m.add_drug(MMC, 30.0)
    run(m, 120, Command(1000.0, 1.5, 1.1))  # net 0.4 L/min into the abdomen: lumps with drug
    run(m, 60, Command(0.0, 0.0, 2.0))  # drain with drug
    ledger = m.twin.drug_ledger()
    assert abs(float(ledger["imbalance [mg]"][0, 0])) < 1e-6 * 30
    # the drain went into the reservoir: no drug left the circuit
    assert float(ledger["drained [mg]"][0, 0]) == pytest.approx(0.0, abs=1e-9)
    energy = m.twin.energy_ledger()
    assert abs(float(energy["imbalance [J]"][0])) < 1e-6 * float(energy["throughput [J]"][0]) + 1.0
    volume = m.twin.perfusate_volume_l[0] + m._pending_l * 0
    assert float(volume) == pytest.approx(
        1.2 + 2.5, abs=0.02
    )  # nothing created or lost (closed? open evaporates a little)


def test_rinse_takes_drug_from_the_abdomen() -> None:
    m = filled()
    m.add_drug(MMC, 30.0)
    run(m, 60)
    before = float(m.twin.perfusate_amount_mg[0, 0])
    m.rinse_abdomen(2.0)
    assert float(m.twin.perfusate_amount_mg[0, 0]) < before
    assert float(m.twin.drug_ledger()["drained [mg]"][0, 0]) > 0.0


def test_abdominal_pressure_reads_only_when_closed_and_line_pressure_model() -> None:
    open_machine = filled("open", line_pressure=QUIET)
    closed_machine = filled("closed", line_pressure=QUIET, abdominal_pressure=QUIET)
    assert math.isnan(open_machine.read().abdominal_pressure_mmhg)
    iap = closed_machine.read().abdominal_pressure_mmhg
    assert math.isfinite(iap) and iap >= 0.0
    run(closed_machine, 3)
    r = closed_machine.read()
    model = 60.0 * r.inflow_l_per_min + r.abdominal_pressure_mmhg  # R_line x Q + IAP
    assert r.line_pressure_mmhg == pytest.approx(model, abs=1.0)


def test_pump_draws_air_when_the_reservoir_runs_dry() -> None:
    m = machine()
    run(m, 30, Command(0.0, 2.0, 0.0))  # nothing loaded: the 0.4 L reservoir empties to its minimum
    assert m.read().air_in_line
    assert m.read().reservoir_volume_l >= 0.19


# -- faults ---------------------------------------------------------------------------------------

ONSET = 70.0  # during the last seconds of the fill of `filled`


def faulty(name: str, technique: str = "open", **fault: object) -> SimulatedPerfusionMachine:
    return filled(technique, (Fault(name, ONSET, **fault),))  # type: ignore[arg-type]


def test_no_fault_acts_before_its_onset() -> None:
    m = machine(faults=(Fault("air-in-line", 1000.0), Fault("power-loss", 1000.0)))
    run(m, 10, Command(500.0, 1.0, 1.0))
    assert not m.read().air_in_line and m.read().power == "mains"


def test_heater_stuck_on_delivers_maximum_whatever_the_command() -> None:
    m = faulty("heater-stuck-on")
    run(m, 5, Command(0.0, 1.5, 1.5))
    assert m.read().heater_power_w == m.info.max_heater_power_w
    start = m.ground_truth().inflow_c
    run(m, 30)
    assert m.ground_truth().inflow_c > start + 2.0  # it really heats


def test_heater_failed_delivers_nothing() -> None:
    m = faulty("heater-failed")
    run(m, 5, Command(3000.0, 1.5, 1.5))
    assert m.read().heater_power_w == 0.0


def test_inflow_probe_stuck_freezes_the_reading() -> None:
    m = faulty("inflow-probe-stuck")
    run(m, 2, Command(3000.0, 1.5, 1.5))
    frozen = m.read().inflow_c
    run(m, 30)
    assert m.read().inflow_c == frozen
    assert m.ground_truth().inflow_c > frozen + 1.0


def test_cavity_probe_drift_rises_at_its_rate() -> None:
    m = faulty("cavity-probe-drift", magnitude=1.0)
    run(m, 1, Command(0.0, 1.5, 1.5))
    first_truth = m.ground_truth().region_c[0]
    run(m, 120)
    drift = m.read().cavity_c[0] - m.ground_truth().region_c[0]
    assert drift == pytest.approx(2.0, abs=0.4)  # 1 K/min for ~2 min
    assert abs(m.read().cavity_c[1] - m.ground_truth().region_c[6]) < 0.5
    del first_truth


def test_probe_disconnected_reads_nan_and_targets_a_channel() -> None:
    m = faulty("probe-disconnected")
    run(m, 2)
    assert math.isnan(m.read().cavity_c[0]) and math.isfinite(m.read().cavity_c[1])
    core = faulty("probe-disconnected", target="core")
    run(core, 2)
    assert math.isnan(core.read().core_c)
    with pytest.raises(InvalidInputError):
        bad = faulty("probe-disconnected", target="cavity[9]")
        run(bad, 2)


def test_pump_stall_stops_the_pump() -> None:
    m = faulty("pump-stall")
    run(m, 2, Command(0.0, 1.5, 1.5))
    assert m.read().inflow_l_per_min == 0.0 and m.ground_truth().inflow_l_per_min == 0.0
    out = faulty("pump-stall", target="outflow")
    run(out, 2, Command(0.0, 1.5, 1.5))
    assert out.ground_truth().outflow_l_per_min == 0.0 and out.ground_truth().inflow_l_per_min > 1.0


def test_occlusion_multiplies_the_line_pressure() -> None:
    m = faulty("occlusion")
    run(m, 10, Command(0.0, 1.5, 1.5))
    assert m.read().line_pressure_mmhg > 600.0  # 10 x 60 mmHg per L/min x 1.5 L/min
    assert m.read().inflow_l_per_min > 1.4  # the roller pump keeps its flow


def test_leak_loses_perfusate_at_its_rate() -> None:
    m = faulty("leak", magnitude=0.5)
    m.add_drug(MMC, 30.0)
    run(m, 1, Command(0.0, 1.0, 1.0))
    before = m.read().reservoir_volume_l
    run(m, 12)
    assert before - m.read().reservoir_volume_l == pytest.approx(0.1, abs=0.03)  # 0.5 L/min x 12 s
    run(m, 60)
    assert m.leaked_l > 0.2
    assert float(m.twin.drug_ledger()["drained [mg]"][0, 0]) > 0.0  # the drug leaves with it


def test_air_in_line_is_seen_by_the_detector() -> None:
    m = faulty("air-in-line")
    run(m, 1)
    assert m.read().air_in_line


def test_power_loss_battery_keeps_pumps_stops_heating() -> None:
    m = faulty("power-loss")
    run(m, 3, Command(3000.0, 1.5, 1.5))
    r = m.read()
    assert r.power == "battery" and r.heater_power_w == 0.0
    assert r.inflow_l_per_min > 1.4 and math.isfinite(r.inflow_c)
    stuck = filled(faults=(Fault("heater-stuck-on", 0.0), Fault("power-loss", ONSET)))
    run(stuck, 3, Command(0.0, 1.5, 1.5))
    assert stuck.read().heater_power_w == 0.0  # no supply, no heat
