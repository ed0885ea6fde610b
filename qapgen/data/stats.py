"""Table 1: size and average lengths of each prepared split, beside the paper's."""

from __future__ import annotations

from qapgen.data.prepare import PreparedData
from qapgen.paper import TABLE1

LENGTH_FIELDS = (
    ("context", "avg_context_words"),
    ("question", "avg_question_words"),
    ("answer", "avg_answer_words"),
)


def _words(text: str) -> int:
    return len(text.split())


def dataset_stats(prepared: PreparedData) -> dict:
    """Per-split counts and average word lengths, the drop counts and the source size."""
    splits = {}
    for name, records in prepared.splits.items():
        entry: dict[str, float] = {"count": len(records)}
        for attribute, key in LENGTH_FIELDS:
            total = sum(_words(getattr(r, attribute)) for r in records)
            entry[key] = round(total / len(records), 2) if records else 0.0
        splits[name] = entry
    return {
        "dataset": prepared.dataset,
        "splits": splits,
        "dropped": dict(sorted(prepared.dropped.items())),
        "source_records": prepared.source_records,
        "kept": prepared.kept,
        "kept_fraction": round(prepared.kept / prepared.source_records, 4)
        if prepared.source_records
        else 0.0,
        "files": prepared.files,
        "options": prepared.options,
    }


def render_table1(stats: dict) -> str:
    """A plain-text Table 1 for one dataset, ours beside the paper's."""
    paper = TABLE1.get(stats["dataset"], {})
    header = f"{'split':<7}{'count':>9}{'paper':>9}{'ctx':>8}{'q':>7}{'a':>7}"
    lines = [f"Table 1 ({stats['dataset']}): ours, with the paper's counts", header]
    for name, entry in stats["splits"].items():
        lines.append(
            f"{name:<7}{entry['count']:>9}{paper.get(name, float('nan')):>9.0f}"
            f"{entry['avg_context_words']:>8.2f}{entry['avg_question_words']:>7.2f}"
            f"{entry['avg_answer_words']:>7.2f}"
        )
    if paper:
        lines.append(
            f"{'paper':<7}{'':>9}{'':>9}{paper['avg_context_words']:>8.2f}"
            f"{paper['avg_question_words']:>7.2f}{paper['avg_answer_words']:>7.2f}"
        )
    lines.append(
        f"kept {stats['kept']} of {stats['source_records']} source QA pairs "
        f"({100 * stats['kept_fraction']:.1f}%)"
    )
    for reason, count in stats["dropped"].items():
        lines.append(f"  dropped {count:>7}  {reason}")
    return "\n".join(lines)
