"""Meter gateway simulators: seeded load models, registers, faults, and MQTT publishing with ground truth."""

from simulators.meters.faults import (
    ENTRY_KINDS,
    FAULT_NAMES,
    MALFORMED_KINDS,
    PAYLOAD_KINDS,
    ClockSkew,
    FaultPlan,
    Gap,
    Leak,
    Replacement,
    Rollover,
    default_plan,
)
from simulators.meters.generator import GenOptions, ReceiveClock, generate_site
from simulators.meters.model import LoadModel
from simulators.meters.transparent import FrameOptions, generate_frames, is_transparent
from simulators.meters.truth import BadPart, Manifest, Publication, TruthReading, readings_by_meter, summarise

__all__ = [
    "ENTRY_KINDS",
    "FAULT_NAMES",
    "MALFORMED_KINDS",
    "PAYLOAD_KINDS",
    "BadPart",
    "ClockSkew",
    "FaultPlan",
    "FrameOptions",
    "Gap",
    "GenOptions",
    "Leak",
    "LoadModel",
    "Manifest",
    "Publication",
    "ReceiveClock",
    "Replacement",
    "Rollover",
    "TruthReading",
    "default_plan",
    "generate_frames",
    "generate_site",
    "is_transparent",
    "readings_by_meter",
    "summarise",
]
