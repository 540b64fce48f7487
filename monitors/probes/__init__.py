"""The probe layer: asyncio functions over plain dataclasses, no database access.

The batch task builds :class:`ProbeSpec` values from claimed monitors, calls
:func:`run_probes_sync` and writes the :class:`ProbeResult` values back.
"""

from monitors.probes.base import Outcome, ProbeResult, ProbeSpec
from monitors.probes.runner import run_probes, run_probes_sync

__all__ = ["Outcome", "ProbeResult", "ProbeSpec", "run_probes", "run_probes_sync"]
