"""hipec: planning, perfusion control, digital twin and records for CRS + HIPEC.

Research and training software, not a certified medical device.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hipec")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
