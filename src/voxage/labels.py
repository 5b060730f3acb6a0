"""The six age classes and how Common Voice's age strings map onto them."""

from __future__ import annotations

AGE_GROUPS: tuple[str, ...] = ("teens", "twenties", "thirties", "fourties", "fifties", "sixties")

# Common Voice spells "fourties" (sic); everything from sixty up is merged, as the seed did.
_ALIASES = {
    "teens": "teens",
    "twenties": "twenties",
    "thirties": "thirties",
    "fourties": "fourties",
    "forties": "fourties",
    "fifties": "fifties",
    "sixties": "sixties",
    "seventies": "sixties",
    "eighties": "sixties",
    "nineties": "sixties",
}


def age_group(raw: str | None) -> str | None:
    """Map a raw age string to one of AGE_GROUPS; None for empty or unknown strings."""
    if raw is None:
        return None
    return _ALIASES.get(raw.strip().lower())


GENDERS: tuple[str, ...] = ("female", "male")

# Releases up to 16.1 say male/female; 17.0 on says male_masculine/female_feminine. The other answers
# (other, transgender, non-binary, do_not_wish_to_say, intersex, empty) are not used as gender labels.
_GENDER_ALIASES = {"female": "female", "female_feminine": "female", "male": "male", "male_masculine": "male"}


def gender_index(raw: str | None) -> int:
    """Index into GENDERS, or -1 where the clip has no usable gender label (the gender loss skips it)."""
    gender = _GENDER_ALIASES.get((raw or "").strip().lower())
    return -1 if gender is None else GENDERS.index(gender)


def class_index(group: str) -> int:
    return AGE_GROUPS.index(group)


def display_name(group: str) -> str:
    """Human wording for the class, e.g. 'sixties' -> 'SIXTIES OR OLDER'."""
    return "SIXTIES OR OLDER" if group == "sixties" else group.upper()
