"""The per-camera health state machine: pure, fed (media time, features) one analysed frame at a time.

Each frame votes for the tamper conditions it shows (`conditions`), with looser *stay* thresholds for the
state the camera is already in (hysteresis). A condition becomes the camera's state only once it has held
for its hold time, misses shorter than `grace_s` forgiven; a state is left once its condition has been
absent for `clear_s`. Hold times are what keeps people, vehicles, headlights and rain from raising a
state: they pass in seconds, tampering stays.

The scene conditions are judged in two steps. The *evidence* must hold for the hold time: the scene is lost
(its edges gone from a good share of the cells), or its fine detail is (focus low). *What it is* is
decided by the majority of the run's recent frames: for a lost scene, a cover (`occluded`) or another view
(`moved`); for lost detail, blur with the coarse picture kept (`defocused`) or not. A dim, rainy view turned
towards the sky shows some cells of another view and some featureless ones, and frame by frame it may tip
either way; a vehicle crossing a defocused view changes its coarse picture for a few seconds. In both the
evidence holds all along, and a flicker of the verdict must not restart the hold.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from core.types import CameraState
from video.features import Features

#: When several conditions hold, the camera is reported in the first of these.
PRIORITY: tuple[CameraState, ...] = (
    CameraState.VIDEO_LOSS,
    CameraState.FROZEN,
    CameraState.OCCLUDED,
    CameraState.MOVED,
    CameraState.DEFOCUSED,
)


@dataclass(frozen=True, slots=True)
class Rules:
    """Thresholds (enter / stay) and hold times; docs/video-analyzer.md gives the reasoning for each."""

    # video_loss: no frames, or one colour covering nearly the whole picture ...
    uniform_enter: float = 0.95
    uniform_stay: float = 0.85
    # ... made by a decoder, not a sensor: black (and without the sensor's noise), or a static screen. A
    # covered lens is a live, noisy, auto-exposed picture, however dark: that is occlusion.
    black_luma: float = 12.0
    black_motion: float = 1.5  # grey levels of mean change between analysed frames: a covered sensor's is more
    static_still: float = 0.9
    loss_hold_s: float = 3.0
    # frozen: nearly every cell repeats exactly.
    still_enter: float = 0.85
    still_stay: float = 0.7
    frozen_hold_s: float = 4.0
    # The scene is gone from a large share of the voting cells: its edges moved, or faded to nothing.
    lost_enter: float = 0.375
    lost_stay: float = 0.25
    occluded_hold_s: float = 5.0
    # moved: what replaced the scene is another coherent, in-focus view, with another coarse layout.
    moved_lowfreq_enter: float = 0.45
    moved_lowfreq_stay: float = 0.55
    moved_changed: float = 0.25
    moved_coarse: float = 0.25  # ... with contrast of its own at the coarse scale where the scene was lost
    moved_hold_s: float = 8.0
    # defocused: the coarse picture is the reference's (layout and contrast), fine detail is gone.
    blur_lowfreq: float = 0.55
    blur_coarse: float = 0.5  # coarse contrast below half the reference's is a veil on the lens, not blur
    blur_changed: float = 0.2  # blur shows no sharp, coherent detail of another view (a vehicle's, at most)
    focus_enter: float = 0.55
    focus_stay: float = 0.65
    # Blur lowers the contrast of the edges too. Fine detail measured low on edges that kept their contrast
    # is the light having changed since the reference was learned (lamp-lit edges gone dark), not blur.
    blur_strength_enter: float = 0.75
    blur_strength_stay: float = 0.85
    defocused_hold_s: float = 6.0
    # common
    grace_s: float = 1.1  # a run of evidence survives a gap this long (one or two missed frames)
    clear_s: float = 3.0  # a state's condition must be gone this long before the state is left

    def hold(self, state: CameraState) -> float:
        """Return how long the condition of `state` must hold before the camera enters it."""
        return {
            CameraState.VIDEO_LOSS: self.loss_hold_s,
            CameraState.FROZEN: self.frozen_hold_s,
            CameraState.OCCLUDED: self.occluded_hold_s,
            CameraState.MOVED: self.moved_hold_s,
            CameraState.DEFOCUSED: self.defocused_hold_s,
        }[state]


#: Conditions judged by a run of evidence and the majority of its verdicts: a lost scene is a cover or
#: another view; lost detail is blur (or a passing change of the coarse picture, or a veil).
LOST_SCENE: tuple[CameraState, ...] = (CameraState.OCCLUDED, CameraState.MOVED)
LOST_DETAIL: tuple[CameraState, ...] = (CameraState.DEFOCUSED,)
VOTED = LOST_SCENE + LOST_DETAIL


@dataclass(frozen=True, slots=True)
class Assessment:
    """What one frame shows: the conditions it votes for, and the evidence it gives (scene or detail lost)."""

    found: frozenset[CameraState]
    scene_lost: bool = False  # at the thresholds of the current state (looser if it is occluded or moved)
    detail_lost: bool = False  # ... (looser if it is defocused)
    scene_lost_anew: bool = False  # at the thresholds for entering: only such frames vote for a new state
    detail_lost_anew: bool = False


def conditions(f: Features | None, current: CameraState | None, rules: Rules) -> frozenset[CameraState]:
    """Return the tamper conditions one frame shows (None: no frame); `current` gets the stay thresholds."""
    return assess(f, current, rules).found


def assess(f: Features | None, current: CameraState | None, rules: Rules) -> Assessment:
    """Judge one frame (None: no frame); `current` gets the stay thresholds."""
    if f is None:
        return Assessment(frozenset({CameraState.VIDEO_LOSS}))

    def enter_or_stay(state: CameraState, enter: float, stay: float) -> float:
        return stay if current is state else enter

    found: set[CameraState] = set()
    uniform = f.dominant >= enter_or_stay(CameraState.VIDEO_LOSS, rules.uniform_enter, rules.uniform_stay)
    black = f.luma <= rules.black_luma and f.motion <= rules.black_motion
    if uniform and (black or f.still >= rules.static_still):
        found.add(CameraState.VIDEO_LOSS)
    if f.still >= enter_or_stay(CameraState.FROZEN, rules.still_enter, rules.still_stay):
        found.add(CameraState.FROZEN)
    if not f.voting:
        return Assessment(frozenset(found))
    # Blur: the coarse picture kept, and nowhere sharp detail the scene did not have.
    coarse_kept = f.lowfreq >= rules.blur_lowfreq and f.coarse >= rules.blur_coarse and f.changed <= rules.blur_changed
    sticky = current in LOST_SCENE
    scene_lost = f.lost >= (rules.lost_stay if sticky else rules.lost_enter)
    # Moved: another view in place of the scene: a good share of the cells show coherent, textured detail
    # of their own, and either the coarse layout changed too or the new view clearly outweighs the
    # washed-out cells. And the lost cells have coarse contrast of their own: a dark cover's sensor noise
    # and hot pixels may look like detail in place frame after frame, but it keeps hardly any. (Over the
    # lost cells only: a partial cover's edge and the cells it left free keep the whole picture's up.)
    other_layout = f.lowfreq <= enter_or_stay(CameraState.MOVED, rules.moved_lowfreq_enter, rules.moved_lowfreq_stay)
    textured = f.changed >= rules.moved_changed and (other_layout or f.changed >= 2 * f.blank)
    moved = scene_lost and f.lost_coarse >= rules.moved_coarse and textured
    # A scene lost to blur (fine detail gone, the coarse picture kept) is defocus, not a cover; so is one
    # whose lost cells kept half their coarse contrast (a cover or paint keeps at most a third where it
    # lies): at night, noise can prop up the fine detail of a blurred picture.
    blurred = coarse_kept and (f.focus <= rules.focus_stay or f.lost_coarse >= rules.blur_coarse)
    if moved:
        found.add(CameraState.MOVED)
    elif scene_lost and not blurred:
        found.add(CameraState.OCCLUDED)
    focus_low = f.focus <= enter_or_stay(CameraState.DEFOCUSED, rules.focus_enter, rules.focus_stay)
    edges_weak = f.strength <= enter_or_stay(CameraState.DEFOCUSED, rules.blur_strength_enter, rules.blur_strength_stay)
    detail_lost = focus_low and edges_weak
    if coarse_kept and detail_lost:
        found.add(CameraState.DEFOCUSED)
    anew = (f.lost >= rules.lost_enter, f.focus <= rules.focus_enter and f.strength <= rules.blur_strength_enter)
    return Assessment(frozenset(found), scene_lost, detail_lost, *anew)


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of a camera's state (or its initial state), with the evidence."""

    t: float  # media time, seconds
    state: CameraState
    previous: CameraState | None  # None for the initial state
    features: Features | None  # the frame that settled it; None when there was no frame
    reason: str


@dataclass(slots=True)
class _Run:
    start: float
    last: float


@dataclass(slots=True)
class _VotedRun:
    """A run of evidence, and what each of its recent frames took it for."""

    start: float
    last: float
    recent: deque[tuple[float, CameraState | None]] = field(default_factory=deque)


@dataclass
class HealthMachine:
    """Turn per-frame conditions into a debounced camera state."""

    rules: Rules = field(default_factory=Rules)
    state: CameraState | None = None
    since: float | None = None
    _runs: dict[CameraState, _Run] = field(default_factory=dict)  # video_loss, frozen
    _voted: dict[tuple[CameraState, ...], _VotedRun] = field(default_factory=dict)  # LOST_SCENE, LOST_DETAIL
    _seen: dict[CameraState, float] = field(default_factory=dict)  # last time each condition held

    @property
    def quiet(self) -> bool:
        """True when ok and no condition is building up (safe to learn the reference from this frame)."""
        return self.state is CameraState.OK and not self._runs and not self._voted

    def reset(self, t: float, reason: str) -> Transition | None:
        """Forget all evidence and return to ok (operator re-baseline); return the change, if any."""
        self._runs.clear()
        self._voted.clear()
        self._seen.clear()
        if self.state is CameraState.OK:
            return None
        previous, self.state, self.since = self.state, CameraState.OK, t
        return Transition(t, CameraState.OK, previous, None, reason)

    def forget_scene(self) -> None:
        """Drop the evidence about the scene (lost scene or detail): the view it was judged by was replaced."""
        self._voted.clear()
        for state in VOTED:
            self._seen.pop(state, None)

    def step(self, t: float, features: Features | None) -> Transition | None:
        """Take one analysed frame (None: no frame) at media time `t`; return the change it causes, if any."""
        judged = assess(features, self.state, self.rules)
        found = judged.found
        quiet = not (found or judged.scene_lost or judged.detail_lost or self._runs or self._voted)
        if quiet and self.state is CameraState.OK:
            return None  # all quiet (most frames): nothing to follow
        for state in PRIORITY:
            if state in VOTED:
                continue
            run = self._runs.get(state)
            if state in found:
                self._seen[state] = t
                if run is None:
                    self._runs[state] = _Run(t, t)
                else:
                    run.last = t
            elif run is not None and t - run.last > self.rules.grace_s:
                del self._runs[state]
        # A loss screen (or no frame) shows no scene at all: it is no evidence of what replaced it.
        screen = CameraState.VIDEO_LOSS in found
        self._vote(t, LOST_SCENE, not screen and judged.scene_lost, judged.scene_lost_anew, found)
        self._vote(t, LOST_DETAIL, not screen and judged.detail_lost, judged.detail_lost_anew, found)
        if self.state is None:
            # Nothing seen yet: a first frame says the camera works, a first gap says it does not.
            first = CameraState.OK if features is not None else CameraState.VIDEO_LOSS
            self.state, self.since = first, t
            return Transition(t, first, None, features, "initial")
        target = self._target(t, found)
        if target is self.state:
            return None
        previous, self.state, self.since = self.state, target, t
        return Transition(t, target, previous, features, _reason(target, previous, t, self._start(target)))

    def _vote(
        self, t: float, group: tuple[CameraState, ...], evidence: bool, anew: bool, found: frozenset[CameraState]
    ) -> None:
        run = self._voted.get(group)
        if not evidence:
            if run is not None and t - run.last > self.rules.grace_s:
                del self._voted[group]
            return
        if run is None:
            run = self._voted[group] = _VotedRun(t, t)
        run.last = t
        # Evidence that only holds at the looser thresholds of the current state keeps that state, and votes
        # for nothing new (a camera turned back whose view is not quite the learned one is no cover).
        run.recent.append((t, next((s for s in group if s in found), None) if anew else None))
        # The verdict is the majority of the last few seconds: long enough to outvote a flicker, short enough
        # to follow a real change (a cover taken off a camera that was also turned).
        window = max(self.rules.hold(s) for s in VOTED)
        while run.recent[0][0] < t - window - 1e-9:
            run.recent.popleft()
        # Blur is the only verdict on lost detail: a defocused camera stays so while its detail is gone. A
        # camera covered or turned stays so while its scene is lost as clearly as it takes to enter, until
        # another verdict wins the majority: a verdict that flickers (a small turn, with half the cells
        # like a cover) must not flash ok. (Lost only at the looser level: the view is nearly back.)
        for state in group:
            if state in found or (state is self.state and len(group) == 1):
                self._seen[state] = t
        if anew and self.state in group and not any(self._leader(t, s) for s in group if s is not self.state):
            self._seen[self.state] = t

    def _leader(self, t: float, state: CameraState) -> bool:
        """True if the recent frames of `state`'s run of evidence, alive now, take it for `state` by a majority."""
        run = next((r for g, r in self._voted.items() if state in g), None)
        if run is None or run.last != t:
            return False
        return 2 * sum(1 for _, v in run.recent if v is state) > len(run.recent)

    def _start(self, state: CameraState) -> float | None:
        run = next((r for g, r in self._voted.items() if state in g), None) if state in VOTED else None
        plain = self._runs.get(state)
        return run.start if run is not None else plain.start if plain is not None else None

    def _mature(self, state: CameraState, t: float, found: frozenset[CameraState]) -> bool:
        hold = self.rules.hold(state) - 1e-9
        if state in VOTED:
            start = self._start(state)
            return start is not None and t - start >= hold and self._leader(t, state)
        run = self._runs.get(state)
        return state in found and run is not None and run.last - run.start >= hold

    def _building(self, current: CameraState, t: float, found: frozenset[CameraState]) -> bool:
        """True if a condition other than `current` is building up (leaving `current` waits for it)."""
        if any(state is not current and state in found for state in self._runs):
            return True
        return any(state is not current and self._leader(t, state) for state in VOTED)

    def _target(self, t: float, found: frozenset[CameraState]) -> CameraState:
        current = self.state
        assert current is not None
        for state in PRIORITY:
            if state is current:
                break
            if self._mature(state, t, found):
                return state  # a more serious condition has held long enough
        if current is CameraState.OK:
            return current
        if t - self._seen.get(current, self.since or t) < self.rules.clear_s:
            return current
        for state in PRIORITY:
            if state is not current and self._mature(state, t, found):
                return state
        if self._building(current, t, found):
            return current  # another condition is building up: do not flash ok in between
        return CameraState.OK


def _reason(target: CameraState, previous: CameraState | None, t: float, start: float | None) -> str:
    if target is CameraState.OK:
        return f"{previous.value if previous else 'state'} cleared"
    held = t - start if start is not None else 0.0
    return f"{target.value} held {held:.1f} s"
