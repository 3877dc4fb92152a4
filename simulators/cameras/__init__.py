"""Perimeter camera simulators: seeded synthetic scenes with nuisances and scripted tampers, as MJPEG streams
and as video clips with ground truth."""

from simulators.cameras.camera import Camera
from simulators.cameras.clips import ClipResult, ClipSpec, plan_clip_set, write_clip, write_clip_set
from simulators.cameras.layouts import SCENE_KINDS
from simulators.cameras.nuisances import LIGHTINGS, Nuisances
from simulators.cameras.scene import Pose, Scene, SceneSpec
from simulators.cameras.server import MjpegServer
from simulators.cameras.tamper import EXPECTED_STATE, TAMPER_TYPES, TamperEvent
from simulators.cameras.truth import ClipTruth, TruthEvent, from_dict, load_truth

__all__ = [
    "EXPECTED_STATE",
    "LIGHTINGS",
    "SCENE_KINDS",
    "TAMPER_TYPES",
    "Camera",
    "ClipResult",
    "ClipSpec",
    "ClipTruth",
    "MjpegServer",
    "Nuisances",
    "Pose",
    "Scene",
    "SceneSpec",
    "TamperEvent",
    "TruthEvent",
    "from_dict",
    "load_truth",
    "plan_clip_set",
    "write_clip",
    "write_clip_set",
]
