"""Read Common Voice release folders (any version) and the seed's `path,age` CSV.

Columns are found by header name, so 5.0-era and 17.0-era files read alike. Rows that cannot be
used are counted by reason, never silently skipped.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path, PurePosixPath

from voxage.data.records import Clip, clip_key
from voxage.errors import DataError
from voxage.labels import age_group

log = logging.getLogger(__name__)

OFFICIAL_SPLITS = {"train.tsv": "train", "dev.tsv": "dev", "test.tsv": "test"}


class MetadataError(DataError):
    """Metadata that cannot be read at all (as opposed to single bad rows, which are counted)."""


def _read_table(path: Path, delimiter: str) -> tuple[list[str], list[dict[str, str]]]:
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")  # liberal: a stray byte spoils a cell, not the file
    if text.startswith("\ufeff"):
        text = text[1:]
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    if reader.fieldnames is None:
        raise MetadataError(f"{path}: empty file, expected a header row")
    header = [h.strip().lower() for h in reader.fieldnames]
    reader.fieldnames = header
    try:
        return header, list(reader)
    except csv.Error as exc:
        raise MetadataError(f"{path}: unreadable table at line {reader.line_num} ({exc})") from None


def _require(path: Path, header: list[str], columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise MetadataError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header)}")


def _safe_relative(raw: str) -> str | None:
    """The path as a relative POSIX path inside the audio folder, or None if it tries to leave it."""
    raw = raw.strip().replace("\\", "/")
    if not raw or raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        return None
    parts = PurePosixPath(raw).parts
    if any(p == ".." for p in parts):
        return None
    return str(PurePosixPath(*parts))


def _rows_to_clips(
    rows: list[dict[str, str]], audio_dir: Path, source: str, drops: Counter, seen: set[str],
    official: dict[str, str] | None = None, language: str = "", corpus: str = "",
) -> list[Clip]:
    """`language` is the fallback for rows without a `locale` (releases before 5.0, seed CSVs)."""
    clips = []
    for row in rows:
        raw_age = (row.get("age") or "").strip()
        if not raw_age:
            drops["no_age"] += 1
            continue
        group = age_group(raw_age)
        if group is None:
            drops["unknown_age"] += 1
            continue
        rel = _safe_relative(row.get("path") or "")
        if rel is None:
            drops["unsafe_path"] += 1
            continue
        if rel in seen:
            drops["duplicate_path"] += 1
            continue
        path = audio_dir / rel
        if not path.is_file():
            drops["missing_file"] += 1
            continue
        seen.add(rel)
        speaker = (row.get("client_id") or "").strip() or f"clip:{rel}"
        clips.append(Clip(
            key=clip_key(rel), path=path, speaker=speaker, age_group=group,
            gender=(row.get("gender") or "").strip(), source=source,
            official_split=(official or {}).get(rel, ""),
            language=(row.get("locale") or "").strip() or language, corpus=corpus,
        ))
    return clips


def read_common_voice(root: Path, include_invalidated: bool = False) -> tuple[list[Clip], Counter]:
    """Clips with a usable age label from a release folder, and the drop counts by reason."""
    validated = root / "validated.tsv"
    if not validated.is_file():
        raise MetadataError(f"{root}: no validated.tsv; is this a Common Voice language folder?")
    audio_dir = root / "clips"
    if not audio_dir.is_dir():
        raise MetadataError(f"{root}: no clips/ folder next to validated.tsv")
    official: dict[str, str] = {}
    for name, split in OFFICIAL_SPLITS.items():
        if (root / name).is_file():
            _, rows = _read_table(root / name, "\t")
            official.update({r: split for row in rows if (r := _safe_relative(row.get("path") or ""))})
    drops: Counter = Counter()
    seen: set[str] = set()
    sources = [("validated", validated)]
    if include_invalidated and (root / "invalidated.tsv").is_file():
        sources.append(("invalidated", root / "invalidated.tsv"))
    clips: list[Clip] = []
    for source, path in sources:
        header, rows = _read_table(path, "\t")
        _require(path, header, ("client_id", "path", "age"))
        drops["rows_read"] += len(rows)
        clips += _rows_to_clips(rows, audio_dir, source, drops, seen, official, root.name, root.name)
    return clips, drops


def speakers_of(root: Path) -> dict[str, tuple[str, list[Path]]]:
    """A Common Voice folder's validated clips by `client_id`, each speaker with the age group they gave ('' when
    none or unknown): what `voxage predict --by-speaker` judges once per speaker, labelled or not."""
    validated = root / "validated.tsv"
    if not validated.is_file():
        raise MetadataError(f"{root}: no validated.tsv; --by-speaker reads a Common Voice language folder")
    header, rows = _read_table(validated, "\t")
    _require(validated, header, ("client_id", "path"))
    speakers: dict[str, tuple[str, list[Path]]] = {}
    for row in rows:
        rel, speaker = _safe_relative(row.get("path") or ""), (row.get("client_id") or "").strip()
        if rel is None or not speaker or not (root / "clips" / rel).is_file():
            continue
        label, paths = speakers.setdefault(speaker, (age_group((row.get("age") or "").strip()) or "", []))
        paths.append(root / "clips" / rel)
    return speakers


def read_seed_csv(csv_path: Path, audio_dir: Path | None = None) -> tuple[list[Clip], Counter]:
    """The seed project's format: a CSV with `path,age` (optionally `client_id`) and an audio folder."""
    header, rows = _read_table(csv_path, ",")
    _require(csv_path, header, ("path", "age"))
    audio_dir = audio_dir or csv_path.parent
    drops: Counter = Counter(rows_read=len(rows))
    return _rows_to_clips(rows, audio_dir, "seed_csv", drops, set(), corpus=csv_path.stem), drops


def read_corpus(source: Path, audio_dir: Path | None = None, include_invalidated: bool = False):
    """Dispatch on what the user pointed at: a release folder, or a seed-format CSV (file or folder)."""
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        return read_seed_csv(source, audio_dir)
    if source.is_dir() and (source / "validated.tsv").is_file():
        return read_common_voice(source, include_invalidated)
    if source.is_dir():
        csvs = sorted(source.glob("*.csv"))
        if len(csvs) == 1:
            return read_seed_csv(csvs[0], audio_dir or source)
    if not source.exists():
        raise MetadataError(f"{source}: no such file or folder")
    raise MetadataError(
        f"{source}: not a Common Voice folder (validated.tsv + clips/) or a seed CSV with path,age columns"
    )


def _is_release(folder: Path) -> bool:
    return (folder / "validated.tsv").is_file()


def _language_folders(parent: Path) -> list[Path]:
    """A multi-language download: every visible sub-folder is meant to be a language (`cv-corpus-6.1/de`)."""
    return sorted(d for d in parent.iterdir() if d.is_dir() and not d.name.startswith("."))


def read_sources(sources: list[Path], audio_dir: Path | None = None,
                 include_invalidated: bool = False) -> tuple[list[Clip], dict[str, Counter]]:
    """Clips from several corpora; drop counts per `corpus/language`.

    Each source is a release folder, a seed CSV, or a parent of language folders. A language folder that
    cannot be read is counted (`unreadable_folder`) and named in a warning; a source in which nothing can
    be read at all is an error. The same clip reached twice (two releases of one language) is kept once.
    """
    clips: list[Clip] = []
    drops: dict[str, Counter] = {}
    keys: set[str] = set()
    for source in map(Path, sources):
        if source.is_dir() and not _is_release(source) and not list(source.glob("*.csv")):
            units = _language_folders(source)
            if not units:
                raise MetadataError(f"{source}: not a Common Voice folder, a folder of language folders, "
                                    "or a seed CSV with path,age columns")
        else:
            units = [source]
        corpus = source.stem if source.is_file() else source.name
        read_any = False
        for unit in units:
            try:
                if unit is source:
                    found, counts = read_corpus(unit, audio_dir, include_invalidated)
                else:
                    found, counts = read_common_voice(unit, include_invalidated)
            except MetadataError as err:
                if unit is source:
                    raise
                log.warning("skipped %s: %s", unit, err)
                drops.setdefault(f"{corpus}/{unit.name}", Counter())["unreadable_folder"] += 1
                continue
            read_any = True
            found = [replace(c, corpus=corpus) for c in found]
            language = Counter(c.language for c in found).most_common(1)[0][0] if found else unit.name
            tally = drops.setdefault(f"{corpus}/{language}", Counter())
            tally.update(counts)
            for c in found:
                if c.key in keys:
                    tally["duplicate_path"] += 1
                    continue
                keys.add(c.key)
                clips.append(c)
        if not read_any:
            raise MetadataError(f"{source}: none of its {len(units)} language folders could be read")
    return clips, drops
