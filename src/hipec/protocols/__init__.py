"""HIPEC regimens as validated data, the library of published regimens, and dose plans.

>>> from hipec.protocols import get_regimen, plan_perfusion
>>> plan = plan_perfusion(get_regimen("dutch-mmc"), height_cm=170, weight_kg=70)
>>> [round(d.mg, 1) for d in plan.doses]
[31.8, 15.9, 15.9]
"""

from hipec.protocols.library import (
    BUILTIN_DIR,
    get_regimen,
    list_regimens,
    load_regimen_file,
    regimen_source_file,
)
from hipec.protocols.plan import (
    DrugTotal,
    PerfusionPlan,
    PlannedDose,
    PlannedSystemicDose,
    plan_perfusion,
)
from hipec.protocols.schema import (
    TECHNIQUES,
    CarrierRule,
    Citation,
    DoseFraction,
    DrugDose,
    FlowRange,
    Regimen,
    SafetyLimits,
    SystemicDrug,
    Technique,
    TemperatureBand,
    TemperatureTargets,
    Variant,
)

__all__ = [
    "BUILTIN_DIR",
    "TECHNIQUES",
    "CarrierRule",
    "Citation",
    "DoseFraction",
    "DrugDose",
    "DrugTotal",
    "FlowRange",
    "PerfusionPlan",
    "PlannedDose",
    "PlannedSystemicDose",
    "Regimen",
    "SafetyLimits",
    "SystemicDrug",
    "Technique",
    "TemperatureBand",
    "TemperatureTargets",
    "Variant",
    "get_regimen",
    "list_regimens",
    "load_regimen_file",
    "plan_perfusion",
    "regimen_source_file",
]
