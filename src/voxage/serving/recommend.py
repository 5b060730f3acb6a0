"""Age-aware movie suggestions from the catalogue that ships with the package.

Rule: a title is suggested for the age groups its `audience` names, newest first; the `teens` group
(Common Voice's under-20s, which includes children) never gets a title rated above PG-13.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from voxage.errors import ConfigError
from voxage.labels import AGE_GROUPS

RATING_ORDER = ("G", "PG", "PG-13", "R")
MAX_TITLES = 30  # the whole catalogue
MAX_RATING = {"teens": "PG-13"}


@lru_cache(maxsize=1)
def catalogue() -> tuple[dict, ...]:
    text = (resources.files("voxage") / "assets" / "catalogue.json").read_text()
    return tuple(json.loads(text))


def allowed(title: dict, age_group: str) -> bool:
    limit = MAX_RATING.get(age_group, RATING_ORDER[-1])
    return RATING_ORDER.index(title["rating"]) <= RATING_ORDER.index(limit)


def recommend(age_group: str, limit: int = 5) -> list[dict]:
    if age_group not in AGE_GROUPS:
        raise ConfigError(f"unknown age group {age_group!r}; one of {', '.join(AGE_GROUPS)}")
    fits = [t for t in catalogue() if age_group in t["audience"] and allowed(t, age_group)]
    return sorted(fits, key=lambda t: -t["year"])[:limit]
