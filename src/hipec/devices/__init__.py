"""The machine boundary: what control software reads from and sends to a perfusion machine."""

from hipec.devices.base import (
    SAFE_FLOW_L_PER_MIN,
    Command,
    DeviceInfo,
    PerfusionDevice,
    PowerState,
    Reading,
    SimulatedDevice,
    safe_command,
)

__all__ = [
    "SAFE_FLOW_L_PER_MIN",
    "Command",
    "DeviceInfo",
    "PerfusionDevice",
    "PowerState",
    "Reading",
    "SimulatedDevice",
    "safe_command",
]
