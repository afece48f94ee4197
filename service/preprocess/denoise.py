"""Grain taken out of a picture before faces are looked for in it.

Film grain and sensor noise on old, grainy or high-ISO photos hide faces from BlazeFace and FaceMesh: on real
photos given the grain of an old print (devkit/hard_faces.py) 2 faces of 32 were found. The noise level
is estimated first (Immerkaer's fast estimator: the mean absolute response to a Laplacian difference mask, which
cancels smooth image structure), and only a noisy picture is smoothed, with a Gaussian as wide as its noise calls
for. Clean photos, textures included, estimate at 0.3-5 (grass, the busiest, 11.8), grainy prints at 15-30; clean
photos pass through untouched. The crops the model sees are still cut from the original picture.
"""

from __future__ import annotations

import cv2
import numpy as np

_LAPLACE_DIFFERENCE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_NOISY = 14.0  # estimated noise (grey levels) from which a picture is smoothed
_SMALLEST = 96  # px: in a thumbnail every pixel is detail, and detail is not told apart from grain
_SAMPLE = 512  # half the side of the square the noise is measured in
_BLUR_PER_NOISE = 0.1  # Gaussian sigma (pixels) per grey level of noise: 1.8 px for an old print's 18


def noise_level(rgb: np.ndarray) -> float:
    """Standard deviation of the picture's white noise, in grey levels (Immerkaer 1996)."""
    height, width = rgb.shape[:2]
    top, left = max(height // 2 - _SAMPLE, 0), max(width // 2 - _SAMPLE, 0)
    sample = rgb[top: top + 2 * _SAMPLE, left: left + 2 * _SAMPLE]  # grain is even: the middle is enough
    grey = cv2.cvtColor(sample, cv2.COLOR_RGB2GRAY)
    # Integer mask on integer grey: the exact response fits int16 (|r| <= 16 * 255), 5x faster than in float32.
    response = cv2.filter2D(grey, cv2.CV_16S, _LAPLACE_DIFFERENCE)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) * cv2.mean(np.abs(response))[0] / 6)


def for_detection(rgb: np.ndarray) -> np.ndarray:
    """The picture to look for faces and landmarks in: `rgb` itself unless it is grainy."""
    if min(rgb.shape[:2]) < _SMALLEST:
        return rgb
    noise = noise_level(rgb)
    if noise < _NOISY:
        return rgb
    return cv2.GaussianBlur(rgb, (0, 0), min(_BLUR_PER_NOISE * noise, 3.0))
