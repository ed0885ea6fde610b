"""Table 1: size and average lengths of each prepared split, beside the paper's.

The paper says "average length" without a unit. Its SQuAD averages sit about 11% above
whitespace words of the paper's own preparation and within a few percent of PTB tokens
(punctuation split off, as the metrics tokenise), so PTB tokens are the default unit and
whitespace words an option; experiments/results/table1/ has both beside the paper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from qapgen.data.prepare import PreparedData
from qapgen.data.segment import MAX_WINDOW_CHARS, WINDOWED
from qapgen.metrics.normalize import tokenize
from qapgen.paper import DU2017_COUNTS, TABLE1

LengthUnit = Literal["ptb", "words"]
LENGTH_UNITS: dict[str, Callable[[str], int]] = {
    "ptb": lambda text: len(tokenize(text)),
    "words": lambda text: len(text.split()),
}
LENGTH_UNIT_NAMES = {
    "ptb": "PTB tokens (nltk Treebank, punctuation split off)",
    "words": "whitespace-separated words",
}
# What each repair means, printed beside its count.
REPAIR_NOTES = {
    WINDOWED: f"(a line over {MAX_WINDOW_CHARS} characters, segmented in windows)",
}
LENGTH_FIELDS = (
    ("context", "avg_context"),
    ("question", "avg_question"),
    ("answer", "avg_answer"),
)


def average_lengths(records: list, unit: LengthUnit) -> dict[str, float]:
    """Mean length of each record's context, question and answer, in ``unit``."""
    count = LENGTH_UNITS[unit]
    return {
        key: round(sum(count(getattr(r, attribute)) for r in records) / len(records), 2)
        if records
        else 0.0
        for attribute, key in LENGTH_FIELDS
    }


def dataset_stats(prepared: PreparedData, length_unit: LengthUnit = "ptb") -> dict:
    """Per-split counts and average lengths, the same over all splits (what the paper's one
    row of averages most plausibly describes), the drop and repair counts and the source
    size."""
    if length_unit not in LENGTH_UNITS:
        raise ValueError(f"length_unit must be one of {sorted(LENGTH_UNITS)}, not {length_unit!r}")
    splits = {
        name: {"count": len(records), **average_lengths(records, length_unit)}
        for name, records in prepared.splits.items()
    }
    pooled = [record for records in prepared.splits.values() for record in records]
    return {
        "dataset": prepared.dataset,
        "length_unit": length_unit,
        "splits": splits,
        "all": {"count": len(pooled), **average_lengths(pooled, length_unit)},
        "dropped": dict(sorted(prepared.dropped.items())),
        "repaired": dict(sorted(prepared.repaired.items())),
        "source_records": prepared.source_records,
        "kept": prepared.kept,
        "kept_fraction": round(prepared.kept / prepared.source_records, 4)
        if prepared.source_records
        else 0.0,
        "files": prepared.files,
        "options": prepared.options,
    }


def _difference(ours: float, paper: float) -> str:
    return f"{100 * (ours - paper) / paper:+.1f}%"


def reference_numbers(stats: dict) -> tuple[str, dict[str, float]]:
    """What to set our numbers beside: the IGJA-QAP paper's Table 1 for its split, Du et
    al.'s pair counts for theirs (no lengths)."""
    split = stats.get("options", {}).get("split", "paper")
    if split == "du2017":
        return "Du et al. (2017)", dict(DU2017_COUNTS)
    if split != "paper" or stats.get("options", {}).get("article_split"):
        return "", {}
    return "the paper", TABLE1.get(stats["dataset"], {})


def render_table1(stats: dict) -> str:
    """A plain-text Table 1 for one dataset, ours beside the reference's (see
    ``reference_numbers``), with the relative difference of each count and average length."""
    source, paper = reference_numbers(stats)
    unit = stats.get("length_unit", "ptb")
    options = stats.get("options", {})
    header = f"{'split':<7}{'count':>9}{'ref':>9}{'diff':>9}{'ctx':>8}{'q':>7}{'a':>7}"
    lines = [
        f"Table 1 ({stats['dataset']}): ours, with {source or 'no reference'}'s counts; "
        f"lengths in {LENGTH_UNIT_NAMES[unit]}",
        f"prepared with split {options.get('split', 'paper')}, segmenter "
        f"{options.get('segmenter') or '-'}, sentence policy "
        f"{options.get('sentence_policy') or '-'}",
        header,
    ]
    for name, entry in [*stats["splits"].items(), ("all", stats["all"])]:
        counts = " " * 18
        if paper:
            # the paper's "all" is the sum of its splits
            reference = paper.get(name) or sum(paper.get(split, 0) for split in stats["splits"])
            counts = f"{reference:>9.0f}{_difference(entry['count'], reference):>9}"
        lines.append(
            f"{name:<7}{entry['count']:>9}{counts}{entry['avg_context']:>8.2f}"
            f"{entry['avg_question']:>7.2f}{entry['avg_answer']:>7.2f}"
        )
    if "avg_context" in paper:
        lines.append(
            f"{'paper':<7}{'':>27}{paper['avg_context']:>8.2f}"
            f"{paper['avg_question']:>7.2f}{paper['avg_answer']:>7.2f}"
        )
        every = stats["all"]
        lines.append(
            f"{'diff':<7}{'':>27}"
            + "".join(
                f"{_difference(every[key], paper[key]):>{width}}"
                for (_, key), width in zip(LENGTH_FIELDS, (8, 7, 7), strict=True)
            )
            + "  (all splits against the paper)"
        )
    lines.append(
        f"kept {stats['kept']} of {stats['source_records']} source QA pairs "
        f"({100 * stats['kept_fraction']:.1f}%)"
    )
    for reason, count in stats["dropped"].items():
        lines.append(f"  dropped {count:>7}  {reason}")
    for repair, count in stats.get("repaired", {}).items():
        lines.append(f"  repaired {count:>6}  {repair} {REPAIR_NOTES.get(repair, '')}".rstrip())
    return "\n".join(lines)
