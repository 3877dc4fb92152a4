"""One camera's analyzer: frames in, debounced health changes with their evidence out (no I/O)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from core.types import CameraState
from video.features import (
    GRID,
    Features,
    FrameMaps,
    Glance,
    Measured,
    compare,
    frame_maps,
    glance,
    inspect,
    small_grey,
    with_glance,
    working_size,
)
from video.recent import RecentViews, reference_of
from video.reference import Reference
from video.state import HealthMachine, Rules, Transition, assess

logger = logging.getLogger(__name__)

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

    learn_frames: int = 10  # frames averaged before the reference is used (5 s at 2 fps) ...
    max_restarts: int = 4  # ... learned again, at most this often, when they did not match the next frame
    settle_frames: int = 40  # the reference stays a plain running mean this long, then adapts slowly
    adapt_s: float = 600.0  # time constant of the slow reference update while healthy
    max_step_s: float = 10.0  # longest interval credited to one reference update
    learn_every_s: float = 10.0  # once settled, blend a healthy frame in this often (it adapts in minutes)
    noise_every_s: float = 2.0  # once settled, follow the noise floor and each cell's activity this often
    noise_drop: float = 0.2  # the noise floor follows a quieter picture with this weight ...
    noise_drop_s: float = 2.0  # ... per this many seconds (a low envelope: rain, wind raise it only slowly)
    activity_s: float = 60.0  # time constant of each cell's usual frame-to-frame change while healthy
    scene_every_s: float = 6.0  # while healthy and uneventful, compare the scene this often (else every frame) ...
    stir_cells: int = 6  # ... and at once when this many grid cells changed since the previous frame by more
    stir_noise: float = 5.0  # than this many times their usual change (and than the noise floor)
    stir_abs: float = 1.0  # (and at least this many grey levels) ...
    stir_all: float = 1.5  # ... or the cells changed their structure by this many times that, on average
    unsettled_every_s: float = 1.0  # compare this often while the last comparison found a little amiss:
    unsettled_focus: float = 0.9  # focus this low ...
    unsettled_lost: float = 0.125  # ... or this share of the voting cells lost, or the coarse picture changed:
    unsettled_lowfreq: float = 0.8  # its layout correlating this little with the reference's ...
    unsettled_coarse: float = 0.5  # ... or its contrast down to this share of the reference's (light changing)
    # A gradual change of light (dawn, lamps fading out) is learned, not reported: when the scene is lost
    # but the picture looks like a healthy view of `recent_gap_s` before the trouble began (views are kept
    # every `recent_every_s` for `recent_keep_s`), that view replaces the reference.
    recent_every_s: float = 1.0
    recent_keep_s: float = 60.0
    recent_gap_s: float = 1.0
    mono_below: float = 1.5  # chroma under which the picture is monochrome (IR mode) ...
    colour_above: float = 4.0  # ... and over which it is colour; in between the mode does not change

    def __post_init__(self) -> None:
        if not 1 <= self.learn_frames <= self.settle_frames:
            raise ValueError("need 1 <= learn_frames <= settle_frames")
        if self.adapt_s <= 0 or self.max_step_s <= 0 or not 0 <= self.mono_below <= self.colour_above:
            raise ValueError("invalid analyzer settings")
        periods = (self.learn_every_s, self.noise_every_s, self.noise_drop_s, self.activity_s, self.scene_every_s)
        if min(periods) <= 0 or not 0 <= self.unsettled_every_s <= self.scene_every_s:
            raise ValueError("analyzer periods must be positive (and the unsettled one no longer)")
        gates_ok = 1 <= self.stir_cells <= GRID * GRID and min(self.stir_noise, self.stir_all) > 0
        if not 0 < self.noise_drop < 1 or not gates_ok:
            raise ValueError("invalid noise or change-gate settings")
        if not 0 < self.recent_every_s < self.recent_keep_s or self.recent_gap_s < 0:
            raise ValueError("invalid recent-view settings")


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
        self.compared = 0  # frames whose scene was compared with the reference (the costly look)
        self.relearned = 0  # references replaced by a recent view after a gradual change of the picture
        self.recent = RecentViews(self.settings.recent_every_s, self.settings.recent_keep_s)
        self._quiet_t: float | None = None  # media time of the last frame with nothing amiss
        self._restarts: dict[str, int] = {}  # per picture mode: first views learned again (see `frame`)
        self._previous: Glance | None = None  # of the last analysed frame
        self._small: npt.NDArray[np.uint8] | None = None  # small grey image of the last frame compared ...
        self._small_index = -1  # ... and its index in `frames`
        self._learned_t: float | None = None
        self._noise_t: float | None = None
        self._scene_t: float | None = None
        self._frame_shape: tuple[int, ...] = ()
        self._small_shape = (0, 0)

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
        size = self._size(image.shape)
        current = self._reference(self.mode, size) if self.mode else None
        seen = glance(image, self._previous, current.noise if current else None)
        due = current is None or self._scene_due(t, current, seen)
        if due:
            seen = inspect(seen, uniformity=False)  # uniformity is measured on the small image below
        elif seen.luma <= self.rules.black_luma or seen.still >= self.rules.static_still:
            seen = inspect(seen)  # it can only matter to a dark or a static picture: a loss screen
        mode = self._mode_of(seen.chroma) if seen.inspected else self.mode
        assert mode is not None
        reference = current or self._reference(mode, size)
        maps: FrameMaps | None = None
        ratio: float | None = None
        switching = mode != self.mode
        if due or switching:
            # Every frame while anything is amiss or the picture just changed; at a low rate while all is
            # quiet (it costs the most: the whole frame is reduced for it).
            small = small_grey(image)
            maps = frame_maps(small)
            # Fine detail is compared with the previous analysed frame's, if that one was reduced too.
            before = self._small if self._small_index == self.frames - 1 else None
            measured = compare(seen, maps, before, reference)
            if switching:
                # Day/night switch. Colour coming in is the IR filter going out: no tamper makes an IR
                # picture colourful (a "no video" screen is caught as uniform). Colour going out may also
                # be a grey cloth over the lens: switch only if the picture does not look covered, or the
                # night view is known already (then it is compared against that).
                other = self._reference(mode, small.shape)
                covered = measured.features.blank >= self.rules.lost_enter
                if mode == COLOUR or other.ready or not reference.ready or not covered:
                    self.mode, reference = mode, other
                    self.recent.clear()  # views of the other picture mode
                    # No change is measured across the switch: the two pictures differ all over, and that
                    # is no measure of the new mode's noise (it would teach a noise floor 30 times too high,
                    # and the next frames would look frozen).
                    seen = inspect(glance(image, None, reference.noise), uniformity=False)
                    measured = compare(seen, maps, before, reference)
            if not switching and self._scene_lost_anew(measured.features):
                relearned = self._relearn(t, seen, maps, before, measured.features)
                if relearned is not None:
                    reference, measured = relearned
            restarted = self._restart(seen, maps, before, reference, measured.features)
            if restarted is not None:
                reference, measured = restarted
            features, ratio = measured.features, measured.fine_ratio
            seen = replace(seen, dominant=features.dominant)  # carried on: the small image's, the better one
            self._scene_t = t
            self._small, self._small_index = small, self.frames
            self.compared += 1
        else:
            assert self.features is not None
            features = with_glance(self.features, seen)
        transition = self.machine.step(t, features)
        if self._healthy(features, reference):
            if seen.motion_cells is not None and self._noise_due(t, reference):
                self._track_noise(t, seen.motion_cells, reference)
            if maps is not None:
                self._learn(t, maps, ratio, reference)
                if self.machine.quiet and reference.frames >= self.settings.settle_frames:
                    self.recent.offer(t, maps.small)  # views of a scene whose reference has settled
        if self.machine.quiet:
            self._quiet_t = t
        self._previous = seen
        self.features = features
        self.frames += 1
        return Change(self.camera, transition, image) if transition else None

    def no_frame(self, t: float) -> Change | None:
        """Record that no frame arrived when one was due at media time `t` (connection lost, stalled feed)."""
        self._previous = self._small = None  # the next frame must not be compared with one from before the gap
        transition = self.machine.step(t, None)
        return Change(self.camera, transition, None) if transition else None

    def rebaseline(self, t: float) -> Change | None:
        """Forget the learned views and learn the current one (an operator accepts a new camera view)."""
        self.references.clear()
        self.recent.clear()
        transition = self.machine.reset(t, "re-baselined by operator")
        return Change(self.camera, transition, None) if transition else None

    def _restart(
        self, seen: Glance, maps: FrameMaps, before: npt.NDArray[np.uint8] | None, ref: Reference, against: Features
    ) -> tuple[Reference, Measured] | None:
        """If `ref` was just learned (this is the first frame judged against it) from a passing moment (a
        vehicle's headlights, exposure still settling at a stream's start), it does not match the picture it
        is about to judge (a quarter of the cells lost): learn it again from this frame, a few times at most,
        and return the new one with this frame's comparison against it. Else None."""
        s = self.settings
        # (Its own count: a view adopted by `_relearn` is judged from its first frame on, and must not be
        # learned again when it has learned as many as a first view does: a tamper then would be learned.)
        if ref.frames != ref.learn_frames or self.mode is None or self._restarts.get(self.mode, 0) >= s.max_restarts:
            return None
        if against.voting == 0 or against.lost < self.rules.lost_stay:
            return None
        fresh = self.references[self.mode] = Reference(s.learn_frames)
        self._restarts[self.mode] = self._restarts.get(self.mode, 0) + 1
        return fresh, compare(seen, maps, before, fresh)

    def _scene_lost_anew(self, features: Features) -> bool:
        """True if this frame of a healthy camera starts or feeds a lost scene, with its fine detail kept."""
        if self.machine.state is not CameraState.OK or features.voting == 0:
            return False
        judged = assess(features, CameraState.OK, self.rules)
        return judged.scene_lost and not judged.detail_lost

    def _relearn(
        self, t: float, seen: Glance, maps: FrameMaps, before: npt.NDArray[np.uint8] | None, against: Features
    ) -> tuple[Reference, Measured] | None:
        """If the picture now is much like a recent view from before the trouble began, the scene changed
        gradually (light), not suddenly (a tamper): replace the reference by that view and return it with
        this frame's comparison against it. Else None."""
        s, r = self.settings, self.rules
        if self._quiet_t is None or self.mode is None or against.lowfreq >= r.blur_lowfreq:
            return None  # the coarse picture kept, as blur keeps it: never learned away
        view = self.recent.before(self._quiet_t - s.recent_gap_s)
        current = self.references.get(self.mode)
        if view is None or current is None or current.frames < s.settle_frames:
            return None  # (a reference still being learned is learned again at a mismatch: `_restart`)
        candidate = reference_of(view, current)
        measured = compare(seen, maps, before, candidate)
        f = measured.features
        if f.voting < max(1, against.voting // 2) or f.lost >= r.lost_stay or f.focus < r.focus_stay:
            return None
        self.references[self.mode] = candidate
        self.recent.clear()
        self.machine.forget_scene()
        self.relearned += 1
        logger.info(
            "camera %s: the picture changed gradually since %.1f s (lost %.2f, focus %.2f against the learned "
            "view; %.2f, %.2f against the view at %.1f s): learning the view anew",
            self.camera, self._quiet_t, against.lost, against.focus, f.lost, f.focus, view.t,
        )  # fmt: skip
        return candidate, measured

    def _size(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(rows, columns) of the small image of frames of this shape."""
        if shape[:2] != self._frame_shape:
            self._frame_shape = shape[:2]
            width, height = working_size(shape[1], shape[0])
            self._small_shape = (height, width)
        return self._small_shape

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

    def _scene_due(self, t: float, ref: Reference, seen: Glance) -> bool:
        f = self.features
        r, s = self.rules, self.settings
        if self._scene_t is None or f is None or ref.frames < s.settle_frames or not self.machine.quiet:
            return True  # learning the view (every frame at first), or something is amiss
        if f.lost >= r.lost_stay or f.focus <= r.focus_stay + 0.1:
            return True  # close to a condition: look at every frame
        if seen.motion_cells is not None and seen.reshaped is not None and ref.noise is not None:
            # The picture changed at once, against each cell's own usual activity (swaying trees, a road):
            # strongly in a good part of the frame (a hand, paint, a turn, or just a big vehicle), or in its
            # structure, not its light, all over (a lens knocked out of focus).
            floor = max(ref.noise, s.stir_abs)
            usual = ref.activity or [floor] * len(seen.motion_cells)
            strong = structure = 0.0
            for change, shape, active in zip(seen.motion_cells, seen.reshaped, usual, strict=True):
                u = active if active > floor else floor
                strong += change > s.stir_noise * u
                structure += shape / u
            if strong >= s.stir_cells or structure > s.stir_all * len(usual):
                return True
        # Something a little off: look closer while it lasts.
        every = s.unsettled_every_s if self._is_unsettled(f) else s.scene_every_s
        return not 0 <= t - self._scene_t < every - 1e-6

    def _is_unsettled(self, f: Features) -> bool:
        """True if a comparison found a little amiss: some detail or a few cells missing, or the coarse
        picture changing (light); the scene is then compared more often, so that a slow tamper (a focus ring
        turned over seconds) is followed from its start and a change of light is seen as gradual."""
        s = self.settings
        return (
            f.focus <= s.unsettled_focus
            or f.lost >= s.unsettled_lost
            or (f.voting > 0 and (f.lowfreq <= s.unsettled_lowfreq or f.coarse <= s.unsettled_coarse))
        )

    def _healthy(self, features: Features, ref: Reference) -> bool:
        """True if this frame may teach the reference: a healthy, uneventful view of the scene."""
        if features.dominant >= self.rules.uniform_stay:
            return False  # never learn a blank picture as the scene
        if ref.ready:
            return self.machine.quiet  # only healthy, uneventful frames refine the reference
        # A mode first seen while tampered with is learned once the camera is healthy again.
        return self.machine.state in (None, CameraState.OK)

    def _noise_due(self, t: float, ref: Reference) -> bool:
        if ref.noise_frames < self.settings.settle_frames or self._noise_t is None:
            return True
        return not 0 <= t - self._noise_t < self.settings.noise_every_s - 1e-6

    def _track_noise(self, t: float, motion: tuple[float, ...], ref: Reference) -> None:
        s = self.settings
        if ref.noise_frames < s.settle_frames:
            # Plain running means at first; but over the first few frames a quieter one is taken at once: a
            # new picture mode's first frames still settle (exposure after an IR switch) and would set the
            # floor far too high.
            rise = drop = usual = 1.0 / (ref.noise_frames + 1)
            if ref.noise_frames < s.learn_frames:
                drop = 1.0
        else:
            dt = min(max(t - self._noise_t, 0.0), s.max_step_s) if self._noise_t is not None else s.max_step_s
            rise = dt / s.adapt_s
            drop = max(rise, 1.0 - (1.0 - s.noise_drop) ** (dt / s.noise_drop_s))
            usual = min(1.0, dt / s.activity_s)
        ref.track_noise(motion, rise, drop, usual)
        self._noise_t = t

    def _learn(self, t: float, maps: FrameMaps, ratio: float | None, ref: Reference) -> None:
        s = self.settings
        if ref.frames < s.settle_frames:
            alpha = 1.0 / (ref.frames + 1)
        else:
            since = s.max_step_s if self._learned_t is None else t - self._learned_t
            if 0 <= since < s.learn_every_s - 1e-6:
                return
            alpha = min(max(since, 0.0), s.max_step_s) / s.adapt_s
        ref.update(maps, alpha, ratio)
        self._learned_t = t
