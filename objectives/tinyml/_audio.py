r"""MFCC features of short speech clips, in numpy (no audio library needed).

The front end follows the MLPerf Tiny keyword-spotting reference: 1 s of audio, 30 ms
Hamming windows every 20 ms (49 frames), 40 log-mel bands, 10 DCT-II coefficients, so a
clip becomes a ``49 x 10`` image. torchaudio and librosa were not used because no
torchaudio release matches the pinned torch and librosa would add numba and soundfile for
four lines of numpy.

    mel(f) = 2595 * log10(1 + f / 700)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.fft import dct

__all__ = ["MfccSettings", "mfcc"]


@dataclass(frozen=True)
class MfccSettings:
    """The front end's constants; part of the feature cache key."""

    sample_rate: int = 8000
    clip_s: float = 1.0
    window_s: float = 0.030
    hop_s: float = 0.020
    n_fft: int = 256
    n_mels: int = 40
    n_mfcc: int = 10
    f_min: float = 20.0

    @property
    def clip_samples(self) -> int:
        return round(self.sample_rate * self.clip_s)

    @property
    def window(self) -> int:
        return round(self.sample_rate * self.window_s)

    @property
    def hop(self) -> int:
        return round(self.sample_rate * self.hop_s)

    @property
    def n_frames(self) -> int:
        return 1 + (self.clip_samples - self.window) // self.hop


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def _mel_filterbank(s: MfccSettings) -> np.ndarray:
    """Triangular filters, ``n_mels x (n_fft // 2 + 1)``, peaks at 1."""
    edges_mel = np.linspace(
        _hz_to_mel(np.array(s.f_min)), _hz_to_mel(np.array(s.sample_rate / 2)), s.n_mels + 2
    )
    edges = _mel_to_hz(edges_mel)
    freqs = np.linspace(0.0, s.sample_rate / 2, s.n_fft // 2 + 1)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (center - lower)
    falling = (upper - freqs) / (upper - center)
    return np.clip(np.minimum(rising, falling), 0.0, None)


def mfcc(audio: np.ndarray, settings: MfccSettings) -> np.ndarray:
    """MFCCs of one clip, cropped or zero-padded to ``settings.clip_s``.

    Args:
        audio: Mono samples scaled to ``[-1, 1]`` at ``settings.sample_rate``.
        settings: Front-end constants.

    Returns:
        A ``n_frames x n_mfcc`` float32 array.
    """
    clip = np.zeros(settings.clip_samples, dtype=np.float64)
    n = min(len(audio), settings.clip_samples)
    clip[:n] = audio[:n]
    starts = np.arange(settings.n_frames) * settings.hop
    frames = clip[starts[:, None] + np.arange(settings.window)] * np.hamming(settings.window)
    power = np.abs(np.fft.rfft(frames, n=settings.n_fft)) ** 2
    log_mel = np.log(power @ _mel_filterbank(settings).T + 1e-6)
    return dct(log_mel, type=2, norm="ortho", axis=1)[:, : settings.n_mfcc].astype(np.float32)
