"""Nine prosodic statistics of a clip from one Praat pitch track (parselmouth): what an ageing voice changes
most besides timbre (pitch level and range, jitter, shimmer, breathiness).

About 6 ms for 5 s of speech, from 20 ms for embedding version 2. One autocorrelation pitch track at 40 ms
steps gives f0, voicing and the harmonics-to-noise ratio (from the strength of each voiced frame's peak, instead
of a second harmonicity analysis); the glottal pulses for jitter and shimmer follow that track. Formants are
gone: dropping F1-F3 changed English unseen-speaker balanced accuracy by +0.003 in a 2-seed ablation
(README, performance), for 6 ms of Burg analysis.
"""

from __future__ import annotations

import warnings

import numpy as np

PROSODY_NAMES = ("f0_mean_st", "f0_std_st", "f0_p10_st", "f0_p90_st", "voiced_fraction", "jitter_local",
                 "shimmer_local", "hnr_db", "duration_s")
PITCH_STEP_S, PITCH_FLOOR_HZ, PITCH_CEILING_HZ = 0.04, 70.0, 600.0


def prosody(wave: np.ndarray, sr: int) -> np.ndarray:
    """(9,) float32 in PROSODY_NAMES order; a value that cannot be measured (no voiced frame) is 0."""
    import parselmouth
    from parselmouth.praat import call

    snd = parselmouth.Sound(wave.astype(np.float64), sampling_frequency=sr)
    pitch = snd.to_pitch_ac(time_step=PITCH_STEP_S, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ)
    track = pitch.selected_array
    voiced = track["frequency"] > 0
    st = 12 * np.log2(track["frequency"][voiced] / 100.0) if voiced.any() else np.zeros(1)
    strength = np.clip(track["strength"][voiced], 1e-6, 1 - 1e-6)
    hnr = float(np.mean(10 * np.log10(strength / (1 - strength)))) if voiced.any() else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            points = call([snd, pitch], "To PointProcess (cc)")
            jitter = call(points, "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3)
            shimmer = call([snd, points], "Get shimmer (local)", 0, 0, 0.0001, 0.02, 1.3, 1.6)
        except parselmouth.PraatError:
            jitter = shimmer = 0.0
    values = [st.mean(), st.std(), np.percentile(st, 10), np.percentile(st, 90), voiced.mean() if len(voiced) else 0,
              jitter, shimmer, hnr, len(wave) / sr]
    return np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
