"""Fixtures for the camera simulator tests: small, quiet scenes so each test takes a fraction of a second."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from simulators.cameras import Nuisances, SceneSpec

W, H = 320, 180
QUIET = Nuisances(noise=0.0, drift=0.0, clouds=0.0, traffic=0.0, trucks=0.0, rain=0.0, wind=0.0)


def sharpness(img: np.ndarray) -> float:
    """Variance of the Laplacian of the grey picture (drops when the picture is blurred)."""
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def flat_share(img: np.ndarray, ref: np.ndarray, block: int = 16) -> float:
    """Share of the textured blocks of `ref` that lost >= 80 % of their detail in `img`."""
    lap = [cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_BGR2GRAY), cv2.CV_64F) for x in (img, ref)]
    h, w = img.shape[:2]
    lost = textured = 0
    for y in range(0, h - block + 1, block):
        for x in range(0, w - block + 1, block):
            a, b = (float(m[y : y + block, x : x + block].var()) for m in lap)
            if b > 20:
                textured += 1
                lost += a < 0.2 * b
    return lost / max(textured, 1)


@pytest.fixture(scope="session")
def quiet_spec() -> SceneSpec:
    """A daytime fence line with no nuisances at all: tamper effects are measurable exactly."""
    return SceneSpec("fence_grass", 11, W, H, "day", True, QUIET, name="cam-test")


@pytest.fixture(scope="session")
def busy_spec() -> SceneSpec:
    """A daytime road scene with every daytime nuisance on."""
    nz = Nuisances(noise=1.0, drift=1.0, clouds=1.0, traffic=2.0, trucks=1.0, rain=0.8, wind=1.0, osd=True)
    return SceneSpec("wall_road", 5, W, H, "day", True, nz, name="cam-busy")
