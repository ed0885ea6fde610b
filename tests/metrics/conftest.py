"""Fixtures for the metric tests: seeded pair sets, the pycocoevalcap oracle, JVM cleanup.

Helpers are handed out as fixtures because the test directories are not packages.
"""

from __future__ import annotations

import random
import shutil
import threading

import pytest

from qapgen.metrics import close_shared_meteor, normalize, shared_meteor

NO_JAVA = "METEOR 1.5 needs Java on PATH (Debian: apt-get install default-jre-headless)"

# Words that exercise METEOR's stem, synonym and paraphrase stages and PTB tokenisation.
VOCABULARY = (
    "what who when where which why how many did does is was were the a an of in on to "
    "for by river city country king queen war battle year century born died founded "
    "built wrote written write writing large big small little first second last new "
    "old university school church team game won win john mary london paris france "
    "germany 1066 1990 2,000 5.5 u.s. n't 's ? , . ! ( ) `` ''"
).split()


def random_pairs(seed: int, count: int) -> tuple[list[str], list[list[str]]]:
    """Question-like hypotheses with 1-3 references each, seeded: sets no test has seen."""
    rng = random.Random(seed)

    def sentence() -> str:
        return " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(1, 16))).capitalize()

    hypotheses = [sentence() for _ in range(count)]
    references = []
    for hypothesis in hypotheses:
        refs = []
        for _ in range(rng.randint(1, 3)):
            # Half the references share a prefix with the hypothesis: scores span 0-100.
            if rng.random() < 0.5:
                words = hypothesis.split()
                refs.append(" ".join(words[: rng.randint(0, len(words))] + [sentence()]))
            else:
                refs.append(sentence())
        references.append(refs)
    return hypotheses, references


def as_coco(hypotheses: list[str], references: list[list[str]]) -> tuple[dict, dict]:
    """The ``gts, res`` dicts pycocoevalcap's scorers take, of normalised text."""
    gts = {i: [normalize(r) for r in refs] for i, refs in enumerate(references)}
    res = {i: [normalize(h)] for i, h in enumerate(hypotheses)}
    return gts, res


@pytest.fixture
def make_pairs():
    """``make_pairs(seed, count)``: seeded question-like pairs (see ``random_pairs``)."""
    return random_pairs


@pytest.fixture
def to_coco():
    """``to_coco(hypotheses, references)``: pycocoevalcap's ``gts, res`` dicts."""
    return as_coco


@pytest.fixture
def require_java():
    """Skip, saying what to install, where Java is missing."""
    if shutil.which("java") is None:
        pytest.skip(NO_JAVA)


@pytest.fixture(scope="session")
def coco_meteor():
    """pycocoevalcap's own METEOR wrapper (one JVM for the session): the oracle."""
    if shutil.which("java") is None:
        pytest.skip(NO_JAVA)
    from pycocoevalcap.meteor.meteor import Meteor

    # The tests that use the oracle also use the shared JVM: start both at once, which
    # halves the wait for the paraphrase tables.
    warm_up = threading.Thread(target=shared_meteor().start)
    warm_up.start()
    oracle = Meteor()
    warm_up.join()
    yield oracle
    oracle.meteor_p.stdin.close()
    oracle.meteor_p.kill()
    oracle.meteor_p.wait()


@pytest.fixture(scope="session", autouse=True)
def _end_shared_meteor():
    """Leave no JVM behind: end the shared METEOR 1.5 process after the session."""
    yield
    close_shared_meteor()
