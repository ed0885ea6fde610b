"""Every case of the hostile-input corpus (``corpus.py``): one clear line or a counted repair.

For each case: the exit code is the promised one; a failure is exactly one
``qapgen ...: error: ...`` line matching the case's message, with no traceback; what a
summary must count is there; the user's files are byte-identical afterwards; nothing a
payload would create exists; and the command returns within ``HANG_SECONDS`` (a hang
guard, not a timing: every case takes seconds).
"""

from __future__ import annotations

import io
import json
import logging
import re
import signal
import sys
from pathlib import Path

import pytest
from hostile.corpus import PLACEHOLDERS, Case, all_cases, build, digest

from experiments import sweep
from qapgen.cli.main import main

CASES = all_cases()
HANG_SECONDS = 300
ENTRIES = {"qapgen": main, "sweep": sweep.main}
# qapgen's one-line failure, the sweep's, and the line of a sweep cell that failed.
ERROR_LINE = re.compile(r"^(?:qapgen(?: [\w-]+)*:|\[sweep\]) error: |^\[sweep\] cell failed: ")
REPOSITORY_CONF = Path(__file__).resolve().parents[2] / "conf"


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so no command's error handling can catch it."""


def _on_alarm(signum, frame):
    raise Hang(f"the command did not return within {HANG_SECONDS} s")


@pytest.fixture(autouse=True)
def log_handlers_on_this_tests_stderr():
    """Lightning's loggers keep the stream they were given at import; under pytest that may
    be an earlier test's closed capture, and logging then prints its own traceback for the
    failed write. Point them at this test's stderr, so every traceback seen is a command's."""
    handlers = [
        handler
        for name in ("lightning.pytorch", "lightning.fabric", "lightning")
        for handler in logging.getLogger(name).handlers
        if isinstance(handler, logging.StreamHandler)
    ]
    # Assigned, not setStream(): that flushes the old stream, which may be closed.
    previous = [handler.stream for handler in handlers]
    for handler in handlers:
        handler.stream = sys.stderr
    yield
    for handler, stream in zip(handlers, previous, strict=True):
        handler.stream = stream


def _fill(arg: str, values: dict[str, str]) -> str:
    for name in PLACEHOLDERS:
        arg = arg.replace(f"{{{name}}}", values.get(name, f"{{{name}}}"))
    return arg


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_case(case: Case, tmp_path, request, monkeypatch, capfd):
    folder = build(case, tmp_path / "case")
    values = {"case": str(folder), "conf": str(REPOSITORY_CONF)}
    for name in case.needs:
        values[name] = str(request.getfixturevalue(f"hostile_{name}"))
    argv = [_fill(arg, values) for arg in case.argv]
    before = {name: digest(folder / name) for name in case.unchanged}
    monkeypatch.chdir(folder)
    for key, value in case.env.items():
        monkeypatch.setenv(key, _fill(value, values))
    monkeypatch.delenv("QAPGEN_DEBUG", raising=False)
    if case.stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(case.stdin)))
    if case.fault is not None:
        case.fault(monkeypatch)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(HANG_SECONDS)
    try:
        code = ENTRIES[case.entry](argv)
    except SystemExit as exit_:  # --help and --print_config exit
        code = exit_.code or 0
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    out, err = capfd.readouterr()
    shown = f"\n--- stdout\n{out[-3000:]}\n--- stderr\n{err[-3000:]}"
    assert "Traceback (most recent call last)" not in out + err, shown
    assert code == case.exit_code, shown
    errors = [line for line in err.splitlines() if ERROR_LINE.match(line)]
    if case.exit_code == 0:
        assert not errors, shown
    else:
        assert len(errors) == 1, shown
        if case.message is not None:
            assert re.search(case.message, errors[0]), shown
    for pattern in case.reports:
        assert re.search(pattern, out + err), f"missing report {pattern!r}{shown}"
    for name, hashed in before.items():
        assert digest(folder / name) == hashed, f"{name} was changed{shown}"
    for name in case.absent:
        assert not (folder / name).exists(), f"{name} exists{shown}"
    if case.check is not None:
        case.check(folder, out, err)


def test_the_corpus_covers_every_area_and_writes_itself(tmp_path):
    from hostile.corpus import AREAS, write_corpus

    manifest = write_corpus(tmp_path / "corpus")
    written = json.loads(manifest.read_text())
    assert len(written) == len(CASES)
    assert {case["name"].split("/", 1)[0] for case in written} == set(AREAS)
    for case in CASES:
        assert case.issue, f"{case.name} does not say which finding it covers"


def test_the_readme_states_the_corpus_as_it_is():
    readme = (REPOSITORY_CONF.parent / "README.md").read_text(encoding="utf-8")
    stated = re.search(r"hostile-input corpus in `tests/hostile/`: (\d+) cases", readme)
    assert stated, "the README's Reliability section names the corpus and its size"
    assert int(stated.group(1)) == len(CASES)
