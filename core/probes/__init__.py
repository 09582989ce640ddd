"""Probes: one per target kind, each returning a frozen ``ProbeResult``."""

from .base import Probe, ProbeContext, ProbeResult, iso_utc
from .registry import make_probe

__all__ = ["Probe", "ProbeContext", "ProbeResult", "iso_utc", "make_probe"]
