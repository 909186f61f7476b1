"""The perfusion digital twin: circuit, 13-region cavity, tissue walls, patient heat and drug
kinetics.

No I/O, no control, no clock: a caller builds a :class:`Twin`, applies :class:`Event` rows and steps
it with :class:`Commands`; :func:`simulate` runs that loop with a command callable and records a
:class:`Trajectory` for the functions in :mod:`hipec.model.metrics`.

Example
-------
>>> from hipec.model import Commands, Event, Patient, Twin, simulate, simple_heater_rule
>>> twin = Twin.create(Patient(170, 70), drugs=["oxaliplatin"], technique="closed")
>>> twin.apply_event(Event(0, "fill", 2.5, "abdomen", temperature_c=42.0))
>>> twin.apply_event(Event(0, "dose", 830.0, "reservoir", drug="oxaliplatin"))
>>> twin.step(Commands(heater_power_w=500.0, inflow_l_min=2.0), dt_s=1.0)
>>> trajectory = simulate(twin, 600.0, 1.0, commands=simple_heater_rule(43.0, 2.0))
"""

from hipec.model.cavity import CatheterPlacement, Technique
from hipec.model.events import Event, event_table
from hipec.model.heater_rule import simple_heater_rule
from hipec.model.parameters.abdomen import REGION_NAMES
from hipec.model.parameters.drugs import CALIBRATION_TARGETS, DRUGS, drug_parameters
from hipec.model.patient import Patient
from hipec.model.simulation import Trajectory, simulate
from hipec.model.solver import Commands, PropagatorFamily, Twin

__all__ = [
    "CALIBRATION_TARGETS",
    "DRUGS",
    "REGION_NAMES",
    "CatheterPlacement",
    "Commands",
    "Event",
    "Patient",
    "PropagatorFamily",
    "Technique",
    "Trajectory",
    "Twin",
    "drug_parameters",
    "event_table",
    "simple_heater_rule",
    "simulate",
]
