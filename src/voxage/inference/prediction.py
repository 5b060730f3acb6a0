"""What prediction returns for one recording."""

from __future__ import annotations

from dataclasses import dataclass, field

from voxage.features.quality import Quality


@dataclass(frozen=True)
class Prediction:
    """What a model heard in one recording.

    Attributes:
        age_group: the most probable of `voxage.AGE_GROUPS` ("teens" ... "sixties", the last meaning 60+).
        probabilities: all six groups -> probability, summing to 1; calibrated on speakers never heard, so a
            0.6 is right about 60% of the time.
        duration_s: seconds of audio judged (at most the first 60 s of a recording).
        gender: "female" or "male" for models with a gender output (the bundled one), else None.
        gender_probabilities: both genders -> probability, or None.
        quality: what the recording's sound says of itself (`voxage.features.quality.Quality`: speech seconds,
            estimated SNR, clipped share, bandwidth), or None.
        reliable: False when the recording lies outside what the model was trained and validated on; the
            probabilities are still its best guess, but do not act on them.
        unreliable_reasons: why not: little_speech, noisy, clipped, narrowband (a phone line),
            unfamiliar_recording (the model's own check: a room, noise, a line or a studio unlike its training
            speech).
    """

    age_group: str
    probabilities: dict[str, float]
    duration_s: float
    gender: str | None = None
    gender_probabilities: dict[str, float] | None = field(default=None)
    quality: Quality | None = None
    reliable: bool = True
    unreliable_reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """A JSON-ready dict (what `voxage predict --json` and the API send); gender and quality keys only when
        present.

        Examples:
            >>> Prediction("teens", {"teens": 1.0}, 2.0).to_dict()
            {'age_group': 'teens', 'probabilities': {'teens': 1.0}, 'duration_s': 2.0, 'reliable': True}
        """
        out = {"age_group": self.age_group, "probabilities": self.probabilities,
               "duration_s": round(self.duration_s, 3), "reliable": self.reliable}
        if self.unreliable_reasons:
            out["unreliable_reasons"] = list(self.unreliable_reasons)
        if self.quality is not None:
            out["quality"] = self.quality.to_dict()
        if self.gender is not None:
            out.update(gender=self.gender, gender_probabilities=self.gender_probabilities)
        return out
