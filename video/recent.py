"""Recent views of a camera's scene: how it looked shortly before trouble began.

A scene lost against the learned reference is either tampered with, or the light changed the picture
(dawn: street lamps fading out, lit windows going dark, the sun coming up; mist settling). The two differ
in *when* the picture changed. A cover, paint, a turn or a knocked focus ring changes it within seconds, so
the picture now also differs from the view of a few seconds before the trouble began. Light that changed
it gradually has already changed that view too: the picture now is much like it. Then the learned reference
is out of date, not the camera: it is replaced by the recent view and learned afresh.

Views are kept as the small grey image only (a few kB each) and become references only when asked.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from video.features import U8, fine_ratio, frame_maps
from video.reference import Reference


@dataclass(slots=True)
class View:
    """The small grey image of one healthy, quiet frame, and when it was taken (media time)."""

    t: float
    small: U8
    reference: Reference | None = field(default=None, repr=False)  # built on first use


def reference_of(view: View, like: Reference) -> Reference:
    """A reference learned from one view alone, with the noise floor and activity of `like`."""
    if view.reference is None:
        maps = frame_maps(view.small)
        ref = Reference(learn_frames=1)
        ref.update(maps, 1.0, None)
        ref.fine_ratio = fine_ratio(maps, ref)  # on its own edges (the reference's would not fit)
        # One frame's noise looks like structure in a featureless cell: only cells that show structure in
        # the learned reference too may vote (until the view has been learned over a few frames).
        ref.valid = [v and w for v, w in zip(ref.valid, like.valid, strict=True)]
        ref.noise, ref.noise_frames = like.noise, like.noise_frames
        ref.activity = list(like.activity) if like.activity is not None else None
        view.reference = ref
    return view.reference


class RecentViews:
    """A few recent healthy views, one every `every_s` seconds, none older than `keep_s`."""

    def __init__(self, every_s: float, keep_s: float) -> None:
        if not 0 < every_s < keep_s:
            raise ValueError("need 0 < every_s < keep_s")
        self.every_s = every_s
        self.keep_s = keep_s
        self._views: deque[View] = deque()

    def __len__(self) -> int:
        return len(self._views)

    def offer(self, t: float, small: U8) -> None:
        """Keep this view if the newest kept one is `every_s` old (media time may restart: then start over)."""
        if self._views and t < self._views[-1].t:
            self._views.clear()
        if self._views and t - self._views[-1].t < self.every_s - 1e-6:
            return
        self._views.append(View(t, small.copy()))
        while self._views and self._views[0].t < t - self.keep_s:
            self._views.popleft()

    def before(self, t: float) -> View | None:
        """The newest view taken at or before media time `t`."""
        return next((v for v in reversed(self._views) if v.t <= t + 1e-9), None)

    def clear(self) -> None:
        self._views.clear()
