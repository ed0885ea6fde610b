"""METEOR 1.5 through the jar shipped in the pycocoevalcap wheel, as QG papers score it.

The coco-caption and Du et al. scripts run ``java -jar meteor-1.5.jar - - -stdio -l en
-norm``, send one ``SCORE ||| ref ... ||| hyp`` line per sentence (the jar answers with
its sufficient statistics), then one ``EVAL ||| stats ||| stats ...`` line; the jar
answers with each sentence's score and, last, the corpus score, which is the number the
papers report. This wrapper speaks the same protocol with what the original lacks:

* every exchange has a deadline (``timeout``; ``startup_timeout`` for the first one,
  which includes loading the 60 MB paraphrase table);
* stdout and stderr are drained by their own threads and requests are written by a
  third, so neither side can block on a full pipe however large the corpus;
* all requests of a corpus are pipelined rather than sent one round trip at a time;
* a missing ``java`` is a :class:`MeteorUnavailableError` that says what to install;
* ``close()`` (also run at interpreter exit and on garbage collection) ends the JVM.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import queue
import shutil
import subprocess
import threading
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_STARTUP_TIMEOUT_S = 180.0
# The JVM stops at the C1 compiler: in a scoring run this short, C2 spends more CPU compiling
# than its code saves, and JIT tiers do not change Java's floating point, so scores are
# identical (docs/design-notes.md#meteor-jvm-flags). The jar is single-threaded, so the serial
# collector: it never competes with the scorer or the trainer for cores. The heap cap is
# coco-caption's; -Dfile.encoding makes non-ASCII text reach the jar intact.
JVM_FLAGS = ("-Xmx2G", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dfile.encoding=UTF-8")
JAR_ARGS = ("-", "-", "-stdio", "-l", "en", "-norm")
_EOF = None
_STDERR_LINES_KEPT = 20


class MeteorError(RuntimeError):
    """The METEOR 1.5 process failed, answered nonsense or exited."""


class MeteorUnavailableError(MeteorError):
    """Java or the METEOR jar cannot be found, so METEOR 1.5 cannot run here.

    ``reason`` says what is missing and how to install it; the message adds how to score
    with another METEOR from Python or YAML (a command line adds its own flag instead).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}; or score with meteor='nltk' or meteor='none'")


class MeteorTimeoutError(MeteorError):
    """The METEOR 1.5 process did not answer within its deadline (it has been killed)."""


@dataclass(frozen=True)
class MeteorScores:
    """METEOR 1.5 in [0, 1]: the corpus score (the one papers report) and per sentence."""

    corpus: float
    sentences: list[float]


def find_jar() -> Path:
    """Path of ``meteor-1.5.jar`` inside the installed pycocoevalcap package."""
    try:
        import pycocoevalcap.meteor as meteor_package
    except ImportError as error:
        raise MeteorUnavailableError(
            "METEOR 1.5 needs the pycocoevalcap package (pip install pycocoevalcap)"
        ) from error
    jar = Path(next(iter(meteor_package.__path__))) / "meteor-1.5.jar"
    if not jar.is_file():
        raise MeteorUnavailableError(f"METEOR 1.5 jar not found at {jar}")
    return jar


def find_java(java: str | None = None) -> str:
    """The java executable to run: ``java`` if given, else ``java`` on PATH."""
    found = shutil.which(java or "java")
    if found is None:
        raise MeteorUnavailableError(
            f"METEOR 1.5 needs Java, and {java or 'java'!r} was not found on PATH: install "
            "a JRE 8 or newer (e.g. Debian's default-jre-headless)"
        )
    return found


def implementation() -> str:
    """One line naming this METEOR for stored results."""
    version = importlib.metadata.version("pycocoevalcap")
    return f"METEOR 1.5 jar (pycocoevalcap {version}) -l en -norm, corpus score from EVAL"


def _clean(text: str) -> str:
    """``text`` with the protocol's field separator and line breaks removed."""
    return " ".join(text.replace("|||", " ").split())


def _terminate(process: subprocess.Popen) -> None:
    """End the JVM: close its input (it exits on EOF), then kill if it lingers."""
    if process.poll() is not None:
        return
    try:
        process.stdin.close()
    except OSError:
        pass  # the pipe is already broken; kill below ends the process either way
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _pump_lines(stream, lines: queue.Queue) -> None:
    """Move the JVM's answers to ``lines`` as they come; ``_EOF`` when it exits."""
    for line in stream:
        lines.put(line.strip())
    lines.put(_EOF)


def _keep_tail(stream, tail: deque) -> None:
    """Drain the JVM's stderr (a full pipe would stall it), keeping the last lines."""
    for line in stream:
        tail.append(line.rstrip())


class Meteor15:
    """One METEOR 1.5 JVM, started on first use and reused for every corpus.

    Thread-safe: concurrent :meth:`score` calls are serialised. Use it as a context
    manager or call :meth:`close`; an unclosed instance is ended at interpreter exit.
    """

    def __init__(
        self,
        *,
        java: str | None = None,
        jar: str | Path | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S,
        jvm_flags: Sequence[str] = JVM_FLAGS,
    ) -> None:
        self.java = java
        self.jar = Path(jar) if jar is not None else None
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.jvm_flags = tuple(jvm_flags)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=_STDERR_LINES_KEPT)
        self._finalizer: weakref.finalize | None = None
        self._stderr_thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the JVM is up."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the JVM and wait (``startup_timeout``) until it has scored a sentence."""
        with self._lock:
            self._start_locked()

    def score(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> MeteorScores:
        """METEOR 1.5 of normalised hypotheses, each against its own references."""
        if len(hypotheses) != len(references):
            raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference sets")
        if not hypotheses:
            raise ValueError("METEOR of an empty corpus is undefined")
        if any(not refs for refs in references):
            raise ValueError("every hypothesis needs at least one reference")
        requests = [
            "SCORE ||| " + " ||| ".join(_clean(r) for r in refs) + " ||| " + _clean(hyp)
            for hyp, refs in zip(hypotheses, references, strict=True)
        ]
        with self._lock:
            self._start_locked()
            statistics = self._exchange(requests, answers=len(requests))
            answers = self._exchange(
                ["EVAL ||| " + " ||| ".join(statistics)], answers=len(requests) + 1
            )
        try:
            values = [float(a) for a in answers]
        except ValueError as error:
            raise MeteorError(f"METEOR 1.5 answered a non-number: {error}") from error
        return MeteorScores(corpus=values[-1], sentences=values[:-1])

    def close(self) -> None:
        """End the JVM (idempotent). A later :meth:`score` starts a new one."""
        with self._lock:
            self._close_locked()

    def __enter__(self) -> Meteor15:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start_locked(self) -> None:
        if self.running:
            return
        self._close_locked()
        java = find_java(self.java)
        jar = self.jar or find_jar()
        command = [java, *self.jvm_flags, "-jar", str(jar), *JAR_ARGS]
        # The jar finds its paraphrase table relative to its own directory.
        try:
            self._process = subprocess.Popen(
                command,
                cwd=jar.parent,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                bufsize=1 << 16,
            )
        except OSError as error:  # found on PATH but not executable, wrong format, ...
            raise MeteorUnavailableError(f"cannot run {java}: {error}") from error
        self._finalizer = weakref.finalize(self, _terminate, self._process)
        self._lines = queue.Queue()
        self._stderr.clear()
        threading.Thread(
            target=_pump_lines, args=(self._process.stdout, self._lines), daemon=True
        ).start()
        self._stderr_thread = threading.Thread(
            target=_keep_tail, args=(self._process.stderr, self._stderr), daemon=True
        )
        self._stderr_thread.start()
        # The first answer comes only after the JVM has loaded the paraphrase table.
        self._exchange(["SCORE ||| a ||| a"], answers=1, first_timeout=self.startup_timeout)

    def _close_locked(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # runs _terminate once; later calls are no-ops
            self._finalizer = None
        self._process = None

    def _exchange(
        self, requests: list[str], *, answers: int, first_timeout: float | None = None
    ) -> list[str]:
        """Send ``requests`` and collect ``answers`` lines, each within its deadline."""
        process = self._process
        assert process is not None
        write_errors: list[OSError] = []
        writer = threading.Thread(
            target=self._write, args=(process, requests, write_errors), daemon=True
        )
        writer.start()
        received = []
        for index in range(answers):
            deadline = first_timeout if index == 0 and first_timeout else self.timeout
            try:
                line = self._lines.get(timeout=deadline)
            except queue.Empty:
                # Kill first: a writer blocked on a full pipe holds the stdin lock, and
                # only a dead reader makes its write fail and let go.
                process.kill()
                writer.join()
                self._close_locked()
                raise MeteorTimeoutError(
                    f"METEOR 1.5 gave no answer within {deadline:g} s "
                    f"({index} of {answers} received); the process was killed"
                ) from None
            if line is _EOF:
                process.kill()
                writer.join()
                self._close_locked()
                raise MeteorError(f"METEOR 1.5 exited unexpectedly: {self._stderr_tail()}")
            received.append(line)
        writer.join(timeout=self.timeout)
        if write_errors:
            raise MeteorError(f"cannot write to METEOR 1.5: {write_errors[0]}")
        return received

    @staticmethod
    def _write(process: subprocess.Popen, requests: list[str], errors: list[OSError]) -> None:
        try:
            process.stdin.write("".join(r + "\n" for r in requests))
            process.stdin.flush()
        except (OSError, ValueError) as error:  # ValueError: stdin closed by a kill
            errors.append(OSError(str(error)))

    def _stderr_tail(self) -> str:
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)  # the last words come after stdout's EOF
        tail = " | ".join(line for line in self._stderr if line.strip())
        return tail or "no message on stderr"


_shared: Meteor15 | None = None
_shared_lock = threading.Lock()


def shared_meteor() -> Meteor15:
    """The process-wide METEOR 1.5 instance: its JVM starts once and serves every caller.

    Starting the JVM costs several seconds (the paraphrase table), so metric objects for
    all tasks and stages share this one; it is closed at interpreter exit.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Meteor15()
            atexit.register(_shared.close)
        return _shared


def close_shared_meteor() -> None:
    """End the shared JVM now (a later :func:`shared_meteor` call starts a new one)."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None
