"""The health state machine: hold times, grace, hysteresis, priorities, clearing (pure, exact)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.types import CameraState
from video.features import Features
from video.state import HealthMachine, Rules, conditions

OK = Features(
    luma=100.0,
    contrast=40.0,
    chroma=20.0,
    dominant=0.2,
    motion=1.5,
    still=0.0,
    overlap=0.9,
    lost=0.0,
    blank=0.0,
    changed=0.0,
    coherence=1.0,
    strength=1.0,
    lowfreq=0.9,
    coarse=1.0,
    sharpness=1.0,
    focus=1.0,
    voting=16,
)
COVERED = replace(
    OK, overlap=0.3, lost=0.9, blank=0.85, changed=0.05, coarse=0.15, lowfreq=0.0, focus=0.2, lost_coarse=0.1
)
TURNED = replace(OK, overlap=0.3, lost=0.8, changed=0.8, lowfreq=0.0, focus=0.4)
BLURRED = replace(OK, sharpness=0.45, strength=0.4, focus=0.4, lowfreq=0.95, coarse=0.9)
FROZEN = replace(OK, still=1.0, motion=0.0)
BLACK = replace(OK, dominant=1.0, luma=2.0, lost=1.0, blank=1.0, motion=0.1, still=0.6)


def run(machine: HealthMachine, frames: list[tuple[float, Features | None]]) -> list[tuple[float, CameraState]]:
    out = []
    for t, f in frames:
        change = machine.step(t, f)
        if change:
            out.append((change.t, change.state))
    return out


def timeline(*spans: tuple[float, float, Features | None], fps: float = 2.0) -> list[tuple[float, Features | None]]:
    frames = []
    for start, end, f in spans:
        n = round((end - start) * fps)
        frames += [(start + i / fps, f) for i in range(n)]
    return frames


def test_first_frame_sets_the_initial_state() -> None:
    assert run(HealthMachine(), [(3.0, OK)]) == [(3.0, CameraState.OK)]
    assert run(HealthMachine(), [(3.0, None)]) == [(3.0, CameraState.VIDEO_LOSS)]


@pytest.mark.parametrize(
    ("features", "state", "hold"),
    [
        (COVERED, CameraState.OCCLUDED, 5.0),
        (TURNED, CameraState.MOVED, 8.0),
        (BLURRED, CameraState.DEFOCUSED, 6.0),
        (FROZEN, CameraState.FROZEN, 4.0),
        (BLACK, CameraState.VIDEO_LOSS, 3.0),
        (None, CameraState.VIDEO_LOSS, 3.0),
    ],
)
def test_condition_enters_after_its_hold_and_clears(features: Features | None, state: CameraState, hold: float) -> None:
    frames = timeline((0, 20, OK), (20, 50, features), (50, 70, OK))
    changes = run(HealthMachine(), frames)
    assert changes == [(0.0, CameraState.OK), (20.0 + hold, state), (52.5, CameraState.OK)]


def test_a_passing_nuisance_shorter_than_the_hold_raises_nothing() -> None:
    frames = timeline((0, 20, OK), (20, 24.5, COVERED), (24.5, 40, OK), (40, 47.5, TURNED), (47.5, 60, OK))
    assert run(HealthMachine(), frames) == [(0.0, CameraState.OK)]


def test_a_single_missed_frame_does_not_restart_the_hold() -> None:
    frames = timeline((0, 10, OK), (10, 13, COVERED), (13, 13.5, OK), (13.5, 20, COVERED))
    assert run(HealthMachine(), frames)[-1] == (15.0, CameraState.OCCLUDED)


def test_a_longer_gap_restarts_the_hold() -> None:
    frames = timeline((0, 10, OK), (10, 13, COVERED), (13, 15, OK), (15, 25, COVERED))
    assert run(HealthMachine(), frames)[-1] == (20.0, CameraState.OCCLUDED)


def test_hysteresis_keeps_the_state_on_weaker_evidence() -> None:
    weaker = replace(COVERED, lost=0.3, blank=0.3)  # below enter (0.375), above stay (0.25)
    frames = timeline((0, 10, OK), (10, 20, COVERED), (20, 40, weaker))
    assert run(HealthMachine(), frames) == [(0.0, CameraState.OK), (15.0, CameraState.OCCLUDED)]
    assert run(HealthMachine(), timeline((0, 10, OK), (10, 30, weaker))) == [(0.0, CameraState.OK)]


def test_more_serious_condition_takes_over() -> None:
    frames = timeline((0, 10, OK), (10, 20, COVERED), (20, 30, BLACK))
    assert run(HealthMachine(), frames) == [
        (0.0, CameraState.OK),
        (15.0, CameraState.OCCLUDED),
        (23.0, CameraState.VIDEO_LOSS),
    ]


def test_leaving_a_state_goes_to_another_mature_condition() -> None:
    frames = timeline((0, 10, OK), (10, 20, BLACK), (20, 40, TURNED))
    changes = run(HealthMachine(), frames)
    assert changes == [(0.0, CameraState.OK), (13.0, CameraState.VIDEO_LOSS), (28.0, CameraState.MOVED)]


def test_reset_returns_to_ok() -> None:
    machine = HealthMachine()
    run(machine, timeline((0, 10, OK), (10, 30, TURNED)))
    assert machine.state is CameraState.MOVED
    change = machine.reset(30.0, "re-baselined")
    assert change is not None and change.state is CameraState.OK and change.previous is CameraState.MOVED
    assert machine.quiet


def test_video_loss_needs_a_decoder_picture_not_a_noisy_covered_lens() -> None:
    rules = Rules()
    covered_uniform = replace(COVERED, dominant=0.97, luma=60.0, still=0.0)
    assert CameraState.VIDEO_LOSS not in conditions(covered_uniform, CameraState.OK, rules)
    blue_screen = replace(covered_uniform, still=1.0)
    assert CameraState.VIDEO_LOSS in conditions(blue_screen, CameraState.OK, rules)
    assert CameraState.VIDEO_LOSS in conditions(BLACK, CameraState.OK, rules)
    # A dark cloth over the lens at dawn: black but for the sensor's noise (and the OSD clock). A cover.
    dark_cover = replace(COVERED, dominant=0.98, luma=5.5, still=0.0, motion=1.8)
    assert conditions(dark_cover, CameraState.OK, rules) == {CameraState.OCCLUDED}
    # A black screen may carry some sensor noise (1.1-1.2 grey levels between frames on seed 15): still black.
    noisy_black = replace(BLACK, still=0.0, motion=1.2)
    assert CameraState.VIDEO_LOSS in conditions(noisy_black, CameraState.OK, rules)


def test_no_votes_no_scene_conditions() -> None:
    unknown = replace(COVERED, voting=0, sharpness=0.2, focus=0.2)
    assert conditions(unknown, CameraState.OK, Rules()) == frozenset()


def test_a_lost_scene_is_judged_by_the_majority_of_its_frames() -> None:
    # A view turned to a dim, featureless sky: the scene is gone all along, but now and then too few cells
    # show the new view and the frame reads as a cover. The flicker must not restart the hold.
    sky = replace(TURNED, changed=0.28, blank=0.5)
    spans = [(0, 20, OK), (20, 21.5, COVERED)]  # the turn itself smears the picture
    t = 21.5
    for _ in range(5):
        spans += [(t, t + 4.5, TURNED), (t + 4.5, t + 6.0, sky)]
        t += 6.0
    changes = run(HealthMachine(), timeline(*spans, (t, 60, TURNED)))
    assert changes == [(0.0, CameraState.OK), (28.0, CameraState.MOVED)]


def test_a_cover_with_a_few_textured_frames_is_still_a_cover() -> None:
    textured = replace(TURNED, lowfreq=0.3)  # the hand's creases read as another view for a frame
    frames = timeline((0, 10, OK), (10, 11, COVERED), (11, 11.5, textured), (11.5, 13, COVERED))
    frames += timeline((13, 13.5, textured), (13.5, 30, COVERED))
    assert run(HealthMachine(), frames) == [(0.0, CameraState.OK), (15.0, CameraState.OCCLUDED)]


def test_a_vehicle_crossing_a_defocused_view_does_not_restart_the_hold() -> None:
    crossing = replace(BLURRED, lowfreq=0.45)  # the coarse picture differs while it passes
    frames = timeline((0, 10, OK), (10, 12, BLURRED), (12, 14, crossing), (14, 30, BLURRED), (30, 34, crossing))
    frames += timeline((34, 40, BLURRED), (40, 50, OK))
    changes = run(HealthMachine(), frames)
    assert changes == [(0.0, CameraState.OK), (16.0, CameraState.DEFOCUSED), (42.5, CameraState.OK)]


def test_a_camera_turned_back_to_a_changed_view_is_not_a_cover() -> None:
    # The learned view is not quite what it was (rain, dusk): a few cells stay lost at the looser level
    # that keeps the moved state; they are no evidence for a new one.
    back = replace(COVERED, lost=0.3, blank=0.1, changed=0.2, lowfreq=0.5, coarse=0.8, focus=0.8)
    frames = timeline((0, 10, OK), (10, 30, TURNED), (30, 50, back))
    changes = run(HealthMachine(), frames)
    assert changes == [(0.0, CameraState.OK), (18.0, CameraState.MOVED), (32.5, CameraState.OK)]


def test_a_loss_screen_is_no_evidence_of_a_lost_scene() -> None:
    machine = HealthMachine()
    run(machine, timeline((0, 10, OK), (10, 20, BLACK)))
    assert machine.state is CameraState.VIDEO_LOSS and not machine._voted


def test_forgetting_the_scene_restarts_its_hold_and_keeps_other_evidence() -> None:
    machine = HealthMachine()
    run(machine, timeline((0, 10, OK), (10, 14, COVERED)))
    machine.forget_scene()  # the reference was replaced: the lost-scene evidence so far is void
    assert run(machine, timeline((14, 18, COVERED))) == []  # only 4 s of evidence since: no state yet
    assert run(machine, timeline((18, 20, COVERED)))[-1] == (19.0, CameraState.OCCLUDED)
    frozen = HealthMachine()
    run(frozen, timeline((0, 10, OK), (10, 13, FROZEN)))
    frozen.forget_scene()  # a frozen picture is no evidence about the scene: its run goes on
    assert run(frozen, timeline((13, 15, FROZEN)))[-1] == (14.0, CameraState.FROZEN)


def test_low_fine_detail_on_edges_that_kept_their_contrast_is_not_blur() -> None:
    # The reference's lamp-lit edges measured after dawn: their fine-to-coarse ratio is low, but the edges
    # kept their contrast. Blur lowers both.
    relit = replace(OK, sharpness=0.4, strength=0.95, focus=0.4, lowfreq=0.6, coarse=1.05)
    assert CameraState.DEFOCUSED not in conditions(relit, CameraState.OK, Rules())
    assert CameraState.DEFOCUSED in conditions(BLURRED, CameraState.OK, Rules())


def test_a_cover_is_no_view_even_where_it_shows_detail() -> None:
    # A dark cloth at dawn: hot pixels and noise read as detail in place in half the cells, but the lost
    # cells keep a fifth of their coarse contrast. A turned view keeps about all of it.
    dark_cover = replace(OK, lost=0.94, blank=0.38, changed=0.56, lowfreq=0.03, lost_coarse=0.2, focus=0.6)
    assert conditions(dark_cover, CameraState.OK, Rules()) == {CameraState.OCCLUDED}
    assert conditions(replace(dark_cover, lost_coarse=1.0), CameraState.OK, Rules()) == {CameraState.MOVED}


def test_a_turned_camera_whose_verdict_flickers_stays_moved() -> None:
    # A small turn: the scene stays lost (0.44), but frame by frame the new view shows in 4 cells (moved)
    # or in 3 (reads as a cover). The camera must not flash ok, nor drift into another state.
    view = replace(OK, lost=0.44, blank=0.12, changed=0.25, lowfreq=0.67, coarse=1.0, focus=0.53, strength=0.53)
    cover_like = replace(view, blank=0.19, changed=0.19, focus=0.8, strength=0.8)
    frames = timeline((0, 10, OK), (10, 40, view), (40, 44, cover_like), (44, 60, view))
    assert run(HealthMachine(), frames) == [(0.0, CameraState.OK), (18.0, CameraState.MOVED)]


def test_blur_shows_no_sharp_detail_of_another_view() -> None:
    # Edges moved in a quarter of the cells and these show sharp, coherent detail: not blur, even though
    # the coarse layout is much the same and the learned edges lost contrast.
    shifted = replace(OK, lost=0.375, blank=0.125, changed=0.25, lowfreq=0.67, focus=0.55, strength=0.55)
    assert CameraState.DEFOCUSED not in conditions(shifted, CameraState.OK, Rules())
    assert CameraState.MOVED in conditions(shifted, CameraState.OK, Rules())


def test_a_lost_scene_whose_cells_kept_their_coarse_contrast_is_no_cover() -> None:
    # Blur at dawn in IR: noise props the fine detail up (focus 0.67), a third of the cells lost their
    # edges, but the coarse picture is the scene's and the lost cells kept half their coarse contrast.
    blurred_noisy = replace(OK, lost=0.38, blank=0.38, lowfreq=0.72, coarse=0.87, lost_coarse=0.57, focus=0.67)
    assert CameraState.OCCLUDED not in conditions(blurred_noisy, CameraState.OK, Rules())
    assert CameraState.OCCLUDED in conditions(replace(blurred_noisy, lost_coarse=0.3), CameraState.OK, Rules())
