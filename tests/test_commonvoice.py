from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxage.data.commonvoice import MetadataError, read_common_voice, read_corpus
from voxage.labels import AGE_GROUPS, age_group


def _release(root: Path, header: list[str], rows: list[dict], clips: list[str]) -> Path:
    (root / "clips").mkdir(parents=True)
    for name in clips:
        sf.write(root / "clips" / name, np.zeros(1600, dtype=np.float32), 16000, format="MP3")
    lines = ["\t".join(header)] + ["\t".join(r.get(h, "") for h in header) for r in rows]
    (root / "validated.tsv").write_text("\n".join(lines) + "\n")
    return root


def test_age_strings_map_to_six_groups():
    assert age_group("fourties") == "fourties"
    assert [age_group(a) for a in ("sixties", "seventies", "eighties", "nineties")] == ["sixties"] * 4
    assert age_group("") is None and age_group("middle-aged") is None
    assert len(AGE_GROUPS) == 6


@pytest.mark.parametrize("header", [
    # 5.0-era: accent, locale, segment
    ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accent", "locale", "segment"],
    # 17.0-era: sentence_id first, accents, variant, sentence_domain
    ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes", "down_votes", "age", "gender",
     "accents", "variant", "locale", "segment"],
])
def test_reads_releases_by_header_name(tmp_path, header):
    rows = [
        {"client_id": "a", "path": "c1.mp3", "age": "twenties", "gender": "female_feminine"},
        {"client_id": "a", "path": "c2.mp3", "age": "", "gender": "female"},
        {"client_id": "b", "path": "c3.mp3", "age": "eighties"},
        {"client_id": "b", "path": "gone.mp3", "age": "teens"},
        {"client_id": "b", "path": "c1.mp3", "age": "twenties"},
        {"client_id": "c", "path": "../../etc/passwd", "age": "teens"},
        {"client_id": "c", "path": "c4.mp3", "age": "middle"},
    ]
    root = _release(tmp_path / "cv", header, rows, ["c1.mp3", "c2.mp3", "c3.mp3", "c4.mp3"])
    clips, drops = read_common_voice(root)
    assert [(c.key, c.age_group, c.speaker) for c in clips] == [("c1", "twenties", "a"), ("c3", "sixties", "b")]
    assert clips[0].gender == "female_feminine"
    assert drops == {"rows_read": 7, "no_age": 1, "missing_file": 1, "duplicate_path": 1, "unsafe_path": 1,
                     "unknown_age": 1}


def test_official_splits_are_attached(tmp_path):
    header = ["client_id", "path", "age"]
    root = _release(tmp_path / "cv", header, [{"client_id": "a", "path": "c1.mp3", "age": "teens"}], ["c1.mp3"])
    (root / "test.tsv").write_text("client_id\tpath\tage\na\tc1.mp3\tteens\n")
    clips, _ = read_common_voice(root)
    assert clips[0].official_split == "test"


def test_missing_columns_is_a_clear_error(tmp_path):
    root = _release(tmp_path / "cv", ["client_id", "path"], [{"client_id": "a", "path": "c1.mp3"}], ["c1.mp3"])
    with pytest.raises(MetadataError, match="missing column"):
        read_common_voice(root)


def test_seed_csv_format(tmp_path):
    (tmp_path / "audio").mkdir()
    sf.write(tmp_path / "audio" / "x.mp3", np.zeros(1600, dtype=np.float32), 16000, format="MP3")
    (tmp_path / "seed.csv").write_text("path,age\nx.mp3,fifties\ny.mp3,teens\n")
    clips, drops = read_corpus(tmp_path / "seed.csv", tmp_path / "audio")
    assert [c.age_group for c in clips] == ["fifties"] and drops["missing_file"] == 1


def test_unknown_source_is_a_clear_error(tmp_path):
    with pytest.raises(MetadataError, match="not a Common Voice folder"):
        read_corpus(tmp_path)
