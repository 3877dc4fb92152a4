"""One camera's analyzer: frames in, debounced health changes with their evidence out (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from core.types import CameraState
from video.features import Features, FrameMaps, Glance, Reference, compare, frame_maps, glance, prepare, with_glance
from video.state import HealthMachine, Rules, Transition

#: Picture modes with a reference each: a day/night camera shows two different pictures of one scene.
COLOUR, MONO = "colour", "mono"


@dataclass(frozen=True, slots=True)
class Change:
    """A state change of one camera and its evidence: the features and the frame that settled it."""

    camera: str
    transition: Transition
    image: npt.NDArray[np.uint8] | None  # BGR frame (the JPEG snapshot is made from it); None without frames

    @property
    def state(self) -> CameraState:
        return self.transition.state

    @property
    def t(self) -> float:
        return self.transition.t


@dataclass(frozen=True, slots=True)
class Settings:
    """How the analyzer learns its reference views."""

    learn_frames: int = 10  # frames averaged before the reference is used (5 s at 2 fps)
    settle_frames: int = 40  # the reference stays a plain running mean this long, then adapts slowly
    adapt_s: float = 600.0  # time constant of the slow reference update while healthy
    max_step_s: float = 5.0  # longest frame interval credited to one reference update
    learn_every_s: float = 2.0  # once settled, blend a healthy frame in this often (it adapts in minutes)
    scene_every_s: float = 1.0  # while healthy and uneventful, compare the scene this often (else every frame)
    mono_below: float = 1.5  # chroma under which the picture is monochrome (IR mode) ...
    colour_above: float = 4.0  # ... and over which it is colour; in between the mode does not change

    def __post_init__(self) -> None:
        if not 1 <= self.learn_frames <= self.settle_frames:
            raise ValueError("need 1 <= learn_frames <= settle_frames")
        if self.adapt_s <= 0 or self.max_step_s <= 0 or not 0 <= self.mono_below <= self.colour_above:
            raise ValueError("invalid analyzer settings")


class CameraAnalyzer:
    """Judge one camera's picture health from its analysed frames, in media time."""

    def __init__(self, camera: str, rules: Rules | None = None, settings: Settings | None = None) -> None:
        self.camera = camera
        self.rules = rules or Rules()
        self.settings = settings or Settings()
        self.machine = HealthMachine(self.rules)
        self.references: dict[str, Reference] = {}
        self.mode: str | None = None
        self.features: Features | None = None  # of the last analysed frame
        self.frames = 0
        self._previous: npt.NDArray[np.uint8] | None = None  # small grey image of the last analysed frame
        self._learned_t: float | None = None
        self._scene_t: float | None = None

    @property
    def state(self) -> CameraState | None:
        """The current state (None before the first frame or gap)."""
        return self.machine.state

    @property
    def since(self) -> float | None:
        """Media time of the last state change."""
        return self.machine.since

    @property
    def reference(self) -> Reference | None:
        """The reference of the current picture mode."""
        return self.references.get(self.mode) if self.mode else None

    def frame(self, t: float, image: npt.NDArray[np.uint8]) -> Change | None:
        """Analyse one frame taken at media time `t` (seconds); return the state change it causes, if any."""
        views = prepare(image)
        previous = self._previous
        if previous is not None and previous.shape != views.small.shape:
            previous = None
        mode = self._mode_of(views.chroma)
        reference = self._reference(self.mode or mode, views.small.shape)
        seen = glance(views, previous, reference)
        maps: FrameMaps | None = None
        ratio: float | None = None
        switching = mode != self.mode
        if switching or self._scene_due(t, reference):
            # Every frame while anything is amiss; at a lower rate while all is quiet (it costs the most).
            maps = frame_maps(views.small)
            measured = compare(seen, maps, previous, reference)
            if switching:
                # Day/night switch. Colour coming in is the IR filter going out: no tamper makes an IR
                # picture colourful (a "no video" screen is caught as uniform). Colour going out may also
                # be a grey cloth over the lens: switch only if the picture does not look covered, or the
                # night view is known already (then it is compared against that).
                other = self._reference(mode, views.small.shape)
                covered = measured.features.blank >= self.rules.lost_enter
                if mode == COLOUR or other.ready or not reference.ready or not covered:
                    self.mode, reference = mode, other
                    seen = glance(views, previous, reference)
                    measured = compare(seen, maps, previous, reference)
            features, ratio = measured.features, measured.fine_ratio
            self._scene_t = t
        else:
            assert self.features is not None
            features = with_glance(self.features, seen)
        transition = self.machine.step(t, features)
        if maps is not None:
            self._learn(t, maps, seen, features, ratio, reference)
        self._previous = views.small
        self.features = features
        self.frames += 1
        return Change(self.camera, transition, image) if transition else None

    def no_frame(self, t: float) -> Change | None:
        """Record that no frame arrived when one was due at media time `t` (connection lost, stalled feed)."""
        self._previous = None  # the next frame must not be compared with one from before the gap
        transition = self.machine.step(t, None)
        return Change(self.camera, transition, None) if transition else None

    def rebaseline(self, t: float) -> Change | None:
        """Forget the learned views and learn the current one (an operator accepts a new camera view)."""
        self.references.clear()
        transition = self.machine.reset(t, "re-baselined by operator")
        return Change(self.camera, transition, None) if transition else None

    def _mode_of(self, chroma: float) -> str:
        """The picture mode this frame's colourfulness indicates (unchanged inside the hysteresis band)."""
        s = self.settings
        if self.mode is None:
            return MONO if chroma < (s.mono_below + s.colour_above) / 2 else COLOUR
        if chroma < s.mono_below:
            return MONO
        if chroma > s.colour_above:
            return COLOUR
        return self.mode

    def _reference(self, mode: str, shape: tuple[int, ...]) -> Reference:
        ref = self.references.get(mode)
        if ref is None or not ref.fits(shape):
            ref = self.references[mode] = Reference(self.settings.learn_frames)  # new mode, or new picture size
        return ref

    def _scene_due(self, t: float, ref: Reference) -> bool:
        f = self.features
        if self._scene_t is None or f is None or not ref.ready or not self.machine.quiet:
            return True
        r = self.rules
        if f.lost >= r.lost_stay or f.focus <= r.focus_stay + 0.1:
            return True  # close to a condition: look at every frame
        return not 0 <= t - self._scene_t < self.settings.scene_every_s - 1e-6

    def _learn(
        self, t: float, maps: FrameMaps, seen: Glance, features: Features, ratio: float | None, ref: Reference
    ) -> None:
        if features.dominant >= self.rules.uniform_stay:
            return  # never learn a blank picture as the scene
        if ref.ready and not self.machine.quiet:
            return  # only healthy, uneventful frames refine the reference
        if not ref.ready and self.machine.state not in (None, CameraState.OK):
            return  # a mode first seen while tampered with is learned once the camera is healthy again
        s = self.settings
        if ref.frames < s.settle_frames:
            alpha = 1.0 / (ref.frames + 1)
        else:
            since = s.max_step_s if self._learned_t is None else t - self._learned_t
            if 0 <= since < s.learn_every_s - 1e-6:
                return
            alpha = min(max(since, 0.0), s.max_step_s) / s.adapt_s
        ref.update(maps, alpha, seen.motion_cells, ratio)
        self._learned_t = t
