"""A small head on utterance embeddings (GE2E speaker vector + prosody), standardised inside the model.

Training reads cached embeddings, so only the head learns; an exported ONNX file puts the speaker encoder's
graph in front of it (`voxage.models.onnx_export`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from voxage.features.frontends import EmbedFrontEnd
from voxage.features.voice_embedding import EMBED_DIM, PROSODY_NAMES, SPEAKER_DIM
from voxage.labels import GENDERS
from voxage.models.outputs import age_width

# inverse L2 strength of the logistic regressions on standardised vectors (for the compensation 0.001-0.1 score alike)
CHANNEL_SCORE_C = 0.01


class EmbedHead(nn.Module):
    input_kind = EmbedFrontEnd.name
    # A linear model on 519 features: left alone it learns who is speaking. Strong L2 on its weights (1.0; 0.5 and
    # 2.0 scored 0.342 and 0.329 vs 0.353 on English speakers never heard, 3 fold seeds x 5 folds) and, since its
    # loss is convex, LBFGS to the optimum rather than Adam steps and early stopping.
    training_defaults = {"weight_decay": 1.0, "patience": 10, "optimizer": "lbfgs"}
    added_later = {"input_clip": 0.0}  # voxage 0.9: models saved before it are not clipped

    # Defaults are the bundled model's: an ordinal head (groups are ordered: fifties called fourties is less wrong
    # than teens) with gender as a second output, 0.350 vs 0.316 for a six-way softmax on English speakers never
    # heard (README, what was tried); no dropout, since L2 regularises it.
    def __init__(self, in_dim: int = EMBED_DIM, hidden: int = 0, num_classes: int = 6, dropout: float = 0.0,
                 genders: int = len(GENDERS), ordinal: bool = True, frames_scale: float = 0.5,
                 languages: list[str] | None = None, threshold_smoothing: float = 1.0, familiarity_check: bool = False,
                 input_clip: float = 3.0, channel_families: list[str] | None = None,
                 standardized_families: list[str] | None = None, family_strengths: dict[str, float] | None = None,
                 family_rank: int = 0, mapped_families: list[str] | None = None):
        super().__init__()
        self.ordinal = ordinal
        # Feature scaling learned from the training split and saved with the weights.
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        # Standardised features are clipped to +-input_clip sd (0: not clipped): a feature far outside the training
        # voices' range (acted anger's pitch, a studio's spectrum) says nothing linear about age, yet unclipped a few
        # of them made CREMA-D's answers confident and wrong (docs/robustness.md).
        self.input_clip = input_clip
        # The frame statistics (after speaker vector and prosody) enter at frames_scale of their standardised size,
        # i.e. a 1 / frames_scale^2 stronger L2 on their weights: they hear more of language and channel. `voxage
        # crossval`, all languages: off-by-one 0.708 at 0.5 vs 0.683 at 1.0 (0/15 folds better), balanced
        # accuracy 0.329 vs 0.333; English speakers never heard 0.330 vs 0.336, within the fold spread (README).
        scale = torch.ones(in_dim)
        scale[SPEAKER_DIM + len(PROSODY_NAMES):] = frames_scale
        self.register_buffer("scale", scale, persistent=False)
        # Per training language, a shift of its vectors towards the reference language's (the first): the speaker
        # encoder hears language and channel as well as the voice, and this takes most of that part out.
        self.languages = list(languages or [])
        self.register_buffer("language_shift", torch.zeros(len(self.languages), in_dim))
        width = age_width(ordinal, num_classes)
        # hidden=0: a linear head, which generalised best to unseen speakers.
        self.net = (nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, width)) if hidden == 0 else
                    nn.Sequential(nn.Dropout(0.1), nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, width)))
        # An ordinal head's neighbouring "older than" vectors should differ little: what tells thirties from
        # fourties is much of what tells fourties from fifties. threshold_smoothing puts an L2 on their differences
        # (in units of the weight decay; see `extra_l2`); 0 is Frank & Hall's five independent vectors, which
        # fitted the rare thresholds (teens, sixties+) on a language's handful of speakers. `voxage crossval`, 5
        # folds x 3 fold seeds: English speakers never heard 0.366 vs 0.346 (better in 12 of 15 folds), all
        # languages 0.356 vs 0.338 (12 of 15), off-by-one unchanged (README).
        self.threshold_smoothing = threshold_smoothing if ordinal else 0.0
        # genders > 0: a second linear output on the same vector; its logits follow the age scores.
        self.gender = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, genders)) if genders else None
        self.genders = genders
        # familiarity_check: one more output after those, above 0 where the recording is unlike the clean training
        # speech (`fit_familiarity_check`); fitted, never trained by gradient.
        self.familiarity_check = familiarity_check
        # channel_families (the training copies' `Channel.family` names): the vector is first moved back by the
        # displacement each family causes, weighted by how likely the vector is to have come through it
        # (`fit_channel_compensation`); fitted, never trained by gradient.
        self.channel_families = list(channel_families or [])
        if self.channel_families:
            families = len(self.channel_families) + 1  # row 0: as recorded, no displacement
            self.register_buffer("family_weight", torch.zeros(families, in_dim))
            self.register_buffer("family_bias", torch.zeros(families))
            self.register_buffer("family_shift", torch.zeros(families, in_dim))
        # family_strengths: the share of a family's fitted displacement taken off (1 where not named)
        self.family_strengths = dict(family_strengths or {})
        # standardized_families (of channel_families): those whose spread is undone as well (`compensate`)
        self.standardized_families = list(standardized_families or [])
        # family_rank > 0: per family, a rank-limited linear map of the voice's own part as heard onto what the
        # compensation still misses of it as recorded (`fit_channel_compensation`), so each voice moves back by
        # its own displacement rather than the family's mean one
        self.family_rank = family_rank if self.channel_families else 0
        # mapped_families (of channel_families; None: all): those given a map. Babble's missed part is mostly the
        # other voices it mixes in, which no map from the vector can predict for new ones (fitted, it cost babble
        # 0.03-0.05: docs/experiments.md)
        self.mapped_families = list(self.channel_families if mapped_families is None else mapped_families)
        if self.standardized_families or self.family_rank:
            self.register_buffer("family_gain", torch.ones(families, in_dim))
            self.register_buffer("clean_mean", torch.zeros(in_dim))
        if self.family_rank:
            self.register_buffer("family_down", torch.zeros(families, in_dim, family_rank))
            self.register_buffer("family_up", torch.zeros(families, family_rank, in_dim))
            self.register_buffer("family_offset", torch.zeros(families, in_dim))
        if familiarity_check:
            for name, size in (("channel_weight", in_dim), ("channel_bias", 1), ("novelty_mean", in_dim),
                               ("novelty_scale", in_dim), ("novelty_bias", 1)):
                self.register_buffer(name, torch.zeros(size))

    def fit_normalization(self, x: torch.Tensor) -> None:
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp(min=1e-4))

    def fit_language_shift(self, x: np.ndarray, languages: list[str], speakers: list[str], weights: np.ndarray,
                           ages: Sequence[str] | None = None, prior_speakers: float = 3.0, sweeps: int = 20) -> None:
        """x (clips, in_dim) of the training clips. With ages, each language's shift is its own effect in the weighted
        additive model x = overall + age-group effect + language effect, fitted by backfitting: a language whose
        speakers are mostly young has a young mean, and moving that mean onto English's would make its young voices
        sound older (without ages: the raw language means). Each language effect shrinks towards zero by
        n / (n + prior_speakers) for a language with n speakers, since 3 speakers say as much about themselves as
        about their language (0.331 vs 0.281 without the shrinkage). `voxage crossval`, 5 folds x 3 fold seeds, all
        languages: 0.318 with the age-adjusted shift, 0.306 with raw language means; English speakers never heard
        0.316 vs 0.327, within the fold spread (embedding version 3; README). Gender as a second adjusting label did
        not help."""
        w = np.asarray(weights, dtype=np.float64)
        code_of = {la: i for i, la in enumerate(self.languages)}
        lang_codes = np.array([code_of[la] for la in languages])
        n_speakers = np.bincount([code for code, _ in set(zip(lang_codes, speakers))], minlength=len(self.languages))
        shrink = (n_speakers / (n_speakers + prior_speakers))[:, None]
        # Everything below works on per-group weighted sums, never on a clips x dim array of its own: 450,000 clips
        # cost their float32 input and nothing more.
        age_codes = np.zeros(len(w), dtype=int) if ages is None else np.unique(np.asarray(ages), return_inverse=True)[1]
        by_lang, lang_w = _weighted_sums(x, lang_codes, w, len(self.languages))
        by_age, age_w = _weighted_sums(x, age_codes, w, int(age_codes.max()) + 1)
        overall = by_lang.sum(0) / w.sum()
        lang_resid, age_resid = by_lang - lang_w[:, None] * overall, by_age - age_w[:, None] * overall
        both_w = np.zeros((len(age_w), len(lang_w)))
        np.add.at(both_w, (age_codes, lang_codes), w)  # weight of each age group x language cell
        lang_w, age_w = np.where(lang_w > 0, lang_w, 1.0)[:, None], np.where(age_w > 0, age_w, 1.0)[:, None]
        language = np.zeros((len(self.languages), by_lang.shape[1]))
        age_effect = np.zeros_like(by_age)
        for _ in range(1 if ages is None else sweeps):
            if ages is not None:  # each age group's mean of (residual - its clips' language effects)
                age_effect = (age_resid - both_w @ language) / age_w
            language = shrink * (lang_resid - both_w.T @ age_effect) / lang_w
        # the reference language stays where it is: prediction never shifts
        self.language_shift.copy_(torch.from_numpy(language[0] - language).float())

    def shift_for(self, language: str) -> np.ndarray:
        """What to add to a vector of this language (zero for the reference and for languages never trained on)."""
        if language not in self.languages:
            return np.zeros(self.mean.shape[0], dtype=np.float32)
        return self.language_shift[self.languages.index(language)].numpy()

    def extra_l2(self) -> torch.Tensor:
        """Sum of squared differences between neighbouring "older than" weight vectors, times threshold_smoothing:
        the training loss adds it times weight_decay / 2, next to the plain L2 on every weight."""
        w = self.net[-1].weight
        return self.threshold_smoothing * (w[1:] - w[:-1]).pow(2).sum()

    def fit_familiarity_check(self, x: np.ndarray, degraded: np.ndarray, weights: np.ndarray, clean: np.ndarray,
                              flag_rate: float) -> None:
        """Two scores on x (the training clips and their channel copies), joined by their maximum and thresholded so
        that `flag_rate` of `clean` (the validation speakers' clean clips) score above 0:
        - a channel score: the speaker encoder hears the channel as well as the voice, so a logistic regression on
          the vector tells the copies whose channel costs the model (`degraded`: a phone line, noise, a room, a
          clipping microphone; `voxage.audio.channels`) from clean clips;
        - a novelty score: the mean squared z-score of the vector against the training clips heard clean (or
          through a channel that does not degrade), high for voices recorded and spoken unlike any of them
          (CREMA-D's acted studio speech).
        Each is put in units of its spread on `clean` before the maximum. `voxage crossval`: docs/robustness.md."""
        coef, intercept, _ = _logistic_on_vector(x, degraded, weights, max_iter=2000)
        channel_w, channel_b = coef[0], float(intercept[0])
        dry = x[~np.asarray(degraded)]
        novelty_mean, novelty_std = dry.mean(0, dtype=np.float64), dry.std(0, dtype=np.float64) + 1e-4
        clean = np.asarray(clean, dtype=np.float64)
        raw = {"channel": clean @ channel_w + channel_b,
               "novelty": np.mean(((clean - novelty_mean) / novelty_std) ** 2, axis=1)}
        # each score minus its (1 - flag_rate) quantile on clean, over its interquartile range there
        centre = {k: np.quantile(v, 1 - flag_rate) for k, v in raw.items()}
        spread = {k: max(float(np.subtract(*np.quantile(v, [0.75, 0.25]))), 1e-6) for k, v in raw.items()}
        joined = np.maximum(*((raw[k] - centre[k]) / spread[k] for k in ("channel", "novelty")))
        threshold = float(np.quantile(joined, 1 - flag_rate))
        self.channel_weight.copy_(torch.from_numpy(channel_w / spread["channel"]).float())
        self.channel_bias.fill_((channel_b - centre["channel"]) / spread["channel"] - threshold)
        self.novelty_mean.copy_(torch.from_numpy(novelty_mean).float())
        # mean(((x - m) / sd)^2) / spread == sum(((x - m) * scale)^2) with scale = 1 / (sd * sqrt(dim * spread))
        self.novelty_scale.copy_(torch.from_numpy(1 / (novelty_std * np.sqrt(len(novelty_std) * spread["novelty"])))
                                 .float())
        self.novelty_bias.fill_(-centre["novelty"] / spread["novelty"] - threshold)

    def fit_channel_compensation(self, x: np.ndarray, families: Sequence[str | None], weights: np.ndarray,
                                 c: float = CHANNEL_SCORE_C, originals: np.ndarray | None = None,
                                 ridge: float = 1.0) -> None:
        """x (clips, in_dim) of the training clips and their channel copies; `families`: each one's channel family
        (None: as recorded). A channel moves every voice's vector in much the same direction (a phone line by one
        displacement, a room by another), so each family's weighted mean minus the clean clips' is that
        displacement; a multinomial logistic regression on the vector says how likely each family is, and the
        forward pass in eval mode takes the expected displacement off, so a phone-line voice lands nearer where the
        same voice lies clean. Taken off a trained head's test vectors (one fold), off-by-one rose by 0.03-0.10
        through phone lines, noise and rooms, with the true family and with the fitted probabilities alike
        (docs/robustness.md). `c`: the regression's inverse L2 strength (0.001-0.1 score alike: docs/experiments.md).
        A family in `family_strengths` moves back by that share of its displacement only. With `family_rank`,
        `originals` (each row's index of its clip as recorded, -1 for those) pairs every copy with its clip for
        `_fit_family_maps` (`ridge`: its L2 strength)."""
        code_of = {None: 0, **{f: i + 1 for i, f in enumerate(self.channel_families)}}
        codes = np.array([code_of[f] for f in families])
        weights = np.asarray(weights, dtype=np.float64)
        sums, mass = _weighted_sums(x, codes, weights, len(code_of))
        means = sums / np.maximum(mass, 1e-12)[:, None]
        if self.standardized_families or self.family_rank:  # each family's spread per dimension, against clean's
            squares, _ = _weighted_sums(x, codes, weights, len(code_of), power=2)
            sd = np.sqrt(np.maximum(squares / np.maximum(mass, 1e-12)[:, None] - means**2, 0)) + 1e-4
            gain = np.ones_like(sd)
            for f in self.standardized_families:
                gain[code_of[f]] = sd[0] / sd[code_of[f]]
            self.family_gain.copy_(torch.from_numpy(gain).float())
            self.clean_mean.copy_(torch.from_numpy(means[0]).float())
            if self.family_rank:
                if originals is None:
                    raise ValueError("family_rank needs each copy's clip as recorded (originals)")
                self._fit_family_maps(x, codes, weights, np.asarray(originals), means, gain, sd[0], ridge)
        coef, intercept, classes = _logistic_on_vector(x, codes, weights, max_iter=3000, c=c)
        weight = np.zeros((len(code_of), x.shape[1]))
        bias = np.full(len(code_of), -1e4)  # a family no copy came through is never expected
        if len(classes) == 2:  # a binary regression has one row: the second class's log-odds against the first
            coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.r_[0.0, intercept]
        weight[classes], bias[classes] = coef, intercept
        self.family_weight.copy_(torch.from_numpy(weight).float())
        self.family_bias.copy_(torch.from_numpy(bias).float())
        strength = np.array([1.0, *(self.family_strengths.get(f, 1.0) for f in self.channel_families)])
        self.family_shift.copy_(torch.from_numpy((means - means[0]) * strength[:, None]).float())

    def _fit_family_maps(self, x: np.ndarray, codes: np.ndarray, weights: np.ndarray, originals: np.ndarray,
                         means: np.ndarray, gain: np.ndarray, clean_sd: np.ndarray, ridge: float) -> None:
        """Per family, a reduced-rank ridge regression (in units of clean speech's spread per dimension) of what
        the gain leaves of each copy's clip as recorded (its own part) on the copy's own part, both centred on the
        family's pairs: a displacement that depends on the voice and its recording. `ridge` is in units of the
        inputs' mean variance."""
        for code, family in enumerate(self.channel_families, start=1):
            rows = np.flatnonzero((codes == code) & (originals >= 0))
            if family not in self.mapped_families or len(rows) <= self.family_rank:
                continue
            w = weights[rows] / weights[rows].sum()
            heard, recorded = x[rows].astype(np.float64), x[originals[rows]].astype(np.float64)
            heard, recorded = (heard - w @ heard) / clean_sd, (recorded - w @ recorded) / clean_sd
            missed = recorded - gain[code] * heard
            gram = (heard * w[:, None]).T @ heard
            slope = np.linalg.solve(gram + ridge * np.trace(gram) / len(gram) * np.eye(len(gram)),
                                    (heard * w[:, None]).T @ missed)
            # the rank directions that carry most of the fitted part (reduced-rank regression)
            _, _, vt = np.linalg.svd((heard * np.sqrt(w)[:, None]) @ slope, full_matrices=False)
            top = vt[: self.family_rank].T
            down, up = slope @ top / clean_sd[:, None], top.T * clean_sd
            self.family_down[code] = torch.from_numpy(down).float()
            self.family_up[code] = torch.from_numpy(up).float()
            self.family_offset[code] = torch.from_numpy(-(means[code] - means[0]) @ down @ up).float()

    def family_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, families + 1): how likely the vector as heard came through each channel family (column 0: as
        recorded), from the compensation's classifier."""
        return torch.softmax(x @ self.family_weight.T + self.family_bias, dim=1)

    def compensate(self, x: torch.Tensor) -> torch.Tensor:
        """x with the expected channel displacement taken off (unchanged without channel families). For
        `standardized_families`, the voice's own part (x minus that family's mean) is also scaled back to clean
        speech's spread per dimension: noise, an echo and clipping shrink it, which a displacement cannot undo.
        `voxage crossval`, 15 folds: the mean over the conditions +0.002 all languages, +0.008 English speakers
        (every fold seed), CREMA-D held out -0.005 / -0.010 (docs/experiments.md). With `family_rank`, each family's
        map adds the voice's own displacement: +0.016 English speakers, +0.008 all languages
        (docs/robustness.md, voxage 0.14)."""
        if not self.channel_families:
            return x
        p = self.family_probabilities(x)
        if not (self.standardized_families or self.family_rank):
            return x - p @ self.family_shift
        own = (x - self.clean_mean)[:, None, :] - self.family_shift  # (batch, families + 1, dim)
        back = own * self.family_gain
        if self.family_rank:  # the map acts on x - the family's mean: its offset holds the mean's part
            centred = (x - self.clean_mean)[:, None, None, :]  # (batch, 1, 1, dim)
            back = back + (centred @ self.family_down @ self.family_up).squeeze(2) + self.family_offset
        return self.clean_mean + (p[:, :, None] * back).sum(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # compensated at prediction only: trained on the vectors as heard, the head still learns what survives a
        # channel (trained on compensated vectors it gained less, and lost off-by-one through the phone line)
        z = ((x if self.training else self.compensate(x)) - self.mean) / self.std
        if self.input_clip:
            z = z.clamp(-self.input_clip, self.input_clip)
        z = z * self.scale
        out = self.net(z) if self.gender is None else torch.cat([self.net(z), self.gender(z)], dim=1)
        if self.familiarity_check:
            channel = x @ self.channel_weight + self.channel_bias  # both on the vector as heard
            novelty = ((x - self.novelty_mean) * self.novelty_scale).pow(2).sum(1) + self.novelty_bias
            out = torch.cat([out, torch.maximum(channel, novelty)[:, None]], dim=1)
        return out


def _logistic_on_vector(x: np.ndarray, labels: np.ndarray, weights: np.ndarray, max_iter: int,
                        c: float = CHANNEL_SCORE_C) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A logistic regression (inverse L2 strength c, weighted like the loss) fitted on x standardised, returned as
    (coefficients, intercepts, classes) on x itself, so the head applies it to the vector with no scaling of its
    own; one float32 standardised copy of x."""
    from sklearn.linear_model import LogisticRegression

    w = np.asarray(weights, dtype=np.float64)
    mean, std = x.mean(0, dtype=np.float64), x.std(0, dtype=np.float64) + 1e-4
    probe = LogisticRegression(C=c, max_iter=max_iter).fit(
        (x - mean.astype(np.float32)) / std.astype(np.float32), labels, sample_weight=w / w.mean())
    coef = probe.coef_ / std
    return coef, probe.intercept_ - coef @ mean, probe.classes_


def _weighted_sums(x: np.ndarray, codes: np.ndarray, weights: np.ndarray, groups: int,
                   chunk: int = 16384, power: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(groups, dim) weighted sums of the rows (to `power`) of each group in float64, and (groups,) the weights'
    sums; chunked, so the float64 copy it works on is never more than `chunk` rows."""
    from scipy.sparse import csr_matrix

    sums = np.zeros((groups, x.shape[1]))
    for start in range(0, len(x), chunk):
        codes_, weights_ = codes[start : start + chunk], weights[start : start + chunk]
        by_group = csr_matrix((weights_, (codes_, np.arange(len(codes_)))), shape=(groups, len(codes_)))
        sums += by_group @ np.asarray(x[start : start + chunk], dtype=np.float64) ** power
    return sums, np.bincount(codes, weights=weights, minlength=groups)
