"""The cleaning report: what was read, what was dropped and why, and what each split holds."""

from __future__ import annotations

from collections import Counter

from voxage.data.manifest import Row
from voxage.data.split import SPLITS
from voxage.labels import AGE_GROUPS


def class_table(rows: list[Row]) -> dict[str, dict[str, int]]:
    table = {}
    for group in AGE_GROUPS:
        members = [r for r in rows if r.age_group == group]
        table[group] = {"clips": len(members), "speakers": len({r.speaker for r in members})}
    return table


def language_table(metadata_drops: dict[str, Counter], decode_drops: dict[str, Counter],
                   usable: list[Row]) -> dict[str, dict]:
    """Per `corpus/language`: rows read, each drop reason, and what is left to train on."""
    table = {}
    for name in sorted(set(metadata_drops) | set(decode_drops)):
        meta, audio = metadata_drops.get(name, Counter()), decode_drops.get(name, Counter())
        rows = [r for r in usable if f"{r.corpus}/{r.language}" == name]
        table[name] = {"rows_read": meta.get("rows_read", 0),
                       "dropped": dict(sorted((meta + audio - Counter(rows_read=meta.get("rows_read", 0))).items())),
                       "clips": len(rows), "speakers": len({r.speaker for r in rows})}
    return table


def build_report(metadata_drops: dict[str, Counter], decode_drops: dict[str, Counter], usable: list[Row]) -> dict:
    """Drops come per `corpus/language` (see `read_sources`); the report gives totals and that table."""
    chosen = [r for r in usable if r.split]
    meta_total, audio_total = sum(metadata_drops.values(), Counter()), sum(decode_drops.values(), Counter())
    return {
        "rows_read": meta_total.get("rows_read", 0),
        "dropped_metadata": {k: v for k, v in sorted(meta_total.items()) if k != "rows_read"},
        "dropped_audio": dict(sorted(audio_total.items())),
        "by_language": language_table(metadata_drops, decode_drops, usable),
        "usable": {"clips": len(usable), "speakers": len({r.speaker for r in usable}),
                   "hours": round(sum(r.duration for r in usable) / 3600, 3)},
        "usable_by_class": class_table(usable),
        "splits": {s: class_table([r for r in chosen if r.split == s]) for s in SPLITS},
    }


def format_report(report: dict) -> str:
    lines = [f"rows read: {report['rows_read']}"]
    for section in ("dropped_metadata", "dropped_audio"):
        for reason, n in report[section].items():
            lines.append(f"  dropped ({reason}): {n}")
    u = report["usable"]
    lines.append(f"usable: {u['clips']} clips, {u['speakers']} speakers, {u['hours']} h")
    head = f"{'class':<10}{'usable':>14}" + "".join(f"{s:>14}" for s in SPLITS)
    lines += ["", "clips / speakers", head, "-" * len(head)]
    for group in AGE_GROUPS:
        cells = [report["usable_by_class"][group]] + [report["splits"][s][group] for s in SPLITS]
        lines.append(f"{group:<10}" + "".join(f"{c['clips']:>8} / {c['speakers']:<3}" for c in cells))
    languages = report.get("by_language", {})
    if len(languages) > 1:
        width = max(len(n) for n in languages) + 2
        lines += ["", f"{'corpus/language':<{width}}{'rows':>7}{'dropped':>9}{'clips':>7}{'speakers':>10}  drops"]
        for name, t in languages.items():
            reasons = ", ".join(f"{k} {v}" for k, v in t["dropped"].items())
            lines.append(f"{name:<{width}}{t['rows_read']:>7}{sum(t['dropped'].values()):>9}{t['clips']:>7}"
                         f"{t['speakers']:>10}  {reasons}")
    return "\n".join(lines)
