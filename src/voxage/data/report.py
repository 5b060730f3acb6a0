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


def build_report(metadata_drops: Counter, decode_drops: Counter, usable: list[Row]) -> dict:
    chosen = [r for r in usable if r.split]
    return {
        "rows_read": metadata_drops.get("rows_read", 0),
        "dropped_metadata": {k: v for k, v in sorted(metadata_drops.items()) if k != "rows_read"},
        "dropped_audio": dict(sorted(decode_drops.items())),
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
    return "\n".join(lines)
