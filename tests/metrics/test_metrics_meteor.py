"""METEOR 1.5 (the jar, through our wrapper) and nltk's METEOR (offline WordNet)."""

from __future__ import annotations

import stat
import sys
import textwrap
import time

import pytest

from qapgen.metrics import (
    Meteor15,
    MeteorError,
    MeteorTimeoutError,
    MeteorUnavailableError,
    WordNetUnavailableError,
    load_wordnet,
    score,
    shared_meteor,
)
from qapgen.metrics.wordnet import install_debian_wordnet, lexnames_text

# A stand-in for `java` that speaks the jar's -stdio protocol instantly: SCORE -> a
# statistics line, EVAL with k stats -> k sentence scores and a corpus score. It exits
# on end of input, like the jar.
FAKE_METEOR = """
import sys
for line in sys.stdin:
    if line.startswith("SCORE"):
        print("1.0 2.0 3.0")
    elif line.startswith("EVAL"):
        count = line.count("|||")
        print("\\n".join(["0.5"] * count))
        print("0.25")
    sys.stdout.flush()
"""

# Answers the start-up exchange, then never again.
STALLS_AFTER_START = """
import sys, time
sys.stdin.readline()
print("1.0 2.0 3.0", flush=True)
time.sleep(60)
"""


def fake_java(tmp_path, body: str, name: str = "java"):
    """An executable that ignores the JVM arguments and runs ``body`` in Python."""
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


FIXED_PAIRS = (
    [
        "what is the capital of france ?",
        "who wrote the play ?",
        "",
        "in which year was the church built ?",
        "where was john born ?",
    ],
    [
        ["what is the capital city of france ?"],
        ["who wrote hamlet ?", "which playwright wrote hamlet ?"],
        ["what year ?"],
        ["when was the church founded ?", "in what year was the church constructed ?"],
        ["where was john born ?"],
    ],
)


def test_meteor15_parity_with_pycocoevalcap(require_java, coco_meteor, make_pairs, to_coco):
    """Corpus and sentence METEOR 1.5 equal pycocoevalcap's within 0.1 points."""
    for hypotheses, references in (FIXED_PAIRS, make_pairs(7, 300)):
        gts, res = to_coco(hypotheses, references)
        expected, expected_sentences = coco_meteor.compute_score(gts, res)
        ours = shared_meteor().score([res[i][0] for i in res], [gts[i] for i in gts])
        assert 100 * ours.corpus == pytest.approx(100 * expected, abs=0.1)
        assert ours.sentences == pytest.approx(expected_sentences, abs=1e-3)
        assert 0 < ours.corpus < 1


def test_meteor15_through_score_reports_its_implementation(require_java):
    result = score(["Who wrote Hamlet?"], [["who wrote hamlet ?"]])
    assert result["meteor"] == pytest.approx(100.0, abs=1.0)
    assert "meteor_nltk" not in result
    assert result["implementations"]["meteor"].startswith("METEOR 1.5 jar")
    assert "-l en -norm" in result["implementations"]["meteor"]


def test_missing_java_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(MeteorUnavailableError, match="default-jre-headless"):
        Meteor15(java=str(tmp_path / "no-such-java")).start()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MeteorUnavailableError, match="'java' was not found"):
        Meteor15().score(["a"], [["a"]])


def test_missing_java_reaches_score_callers(tmp_path):
    scorer = Meteor15(java=str(tmp_path / "no-such-java"))
    with pytest.raises(MeteorUnavailableError):
        score(["a"], [["a"]], meteor_scorer=scorer)


def test_startup_timeout_kills_the_process(tmp_path):
    java = fake_java(tmp_path, "import time\ntime.sleep(60)\n")
    meteor = Meteor15(java=java, startup_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(MeteorTimeoutError, match="no answer within 0.5 s"):
        meteor.start()
    assert time.monotonic() - started < 10
    assert not meteor.running


def test_every_exchange_has_a_deadline(tmp_path):
    meteor = Meteor15(java=fake_java(tmp_path, STALLS_AFTER_START), timeout=0.5)
    meteor.start()
    with pytest.raises(MeteorTimeoutError, match="0 of 3 received"):
        meteor.score(["a", "b", "c"], [["a"], ["b"], ["c"]])
    assert not meteor.running


def test_a_process_that_dies_reports_its_stderr(tmp_path):
    java = fake_java(tmp_path, 'import sys\nsys.exit("Error: Unable to access jarfile")\n')
    with pytest.raises(MeteorError, match="exited unexpectedly: Error: Unable to access jarfile"):
        Meteor15(java=java).start()


def test_large_inputs_do_not_deadlock_the_pipes(tmp_path):
    """60,000 requests (~6 MB each way) would fill both pipes of a naive wrapper."""
    count = 60_000
    hypotheses = [f"hypothesis number {i} with some words" for i in range(count)]
    references = [[f"reference number {i} with other words"] for i in range(count)]
    with Meteor15(java=fake_java(tmp_path, FAKE_METEOR), timeout=20) as meteor:
        result = meteor.score(hypotheses, references)
    assert result.corpus == 0.25 and len(result.sentences) == count


def test_close_ends_the_process_and_a_later_score_restarts_it(tmp_path):
    meteor = Meteor15(java=fake_java(tmp_path, FAKE_METEOR))
    meteor.start()
    first = meteor._process
    meteor.close()
    assert first.poll() == 0  # exited on end of input, not killed
    assert not meteor.running
    assert meteor.score(["a"], [["a"]]).corpus == 0.25
    assert meteor.running and meteor._process is not first
    meteor.close()
    meteor.close()  # idempotent


def test_separator_in_text_cannot_break_the_protocol(require_java):
    result = shared_meteor().score(["who ||| wrote it ?"], [["who wrote it ?"]])
    assert result.corpus == pytest.approx(1.0, abs=0.01)


def test_lexnames_is_wordnet_30s_table():
    lines = lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[3] == "03\tnoun.Tops\t1"
    assert lines[44] == "44\tadj.ppl\t3"
    assert [int(line.split("\t")[0]) for line in lines] == list(range(45))


def test_missing_wordnet_is_a_clear_error(tmp_path):
    with pytest.raises(WordNetUnavailableError, match="wordnet-base"):
        install_debian_wordnet(tmp_path / "empty", tmp_path / "nltk_data")
    with pytest.raises(WordNetUnavailableError, match="apt-get install wordnet-base"):
        load_wordnet(debian_dir=tmp_path / "empty")


@pytest.fixture(scope="module")
def wordnet():
    try:
        reader, _ = load_wordnet()
    except WordNetUnavailableError as error:
        pytest.skip(f"no WordNet for nltk's METEOR: {error}")
    return reader


def test_wordnet_loads_offline_with_lexnames(wordnet):
    dog = wordnet.synsets("dog")[0]
    assert dog.name() == "dog.n.01" and dog.lexname() == "noun.animal"
    assert "automobile" in {lemma.name() for lemma in wordnet.synsets("car")[0].lemmas()}


def test_meteor_nltk_is_reported_under_its_own_name(wordnet):
    # nltk matches synonyms after stemming, so the pair must survive Porter stemming.
    refs = [["What is the car's colour?"]]
    synonym = score(["What is the auto's colour?"], refs, meteor="nltk")
    unrelated = score(["What is the banana's colour?"], refs, meteor="nltk")
    assert "meteor" not in synonym
    assert synonym["implementations"]["meteor_nltk"].startswith("nltk ")
    # WordNet is in use: a synonym matches, an unrelated word does not.
    assert synonym["meteor_nltk"] > unrelated["meteor_nltk"] + 5


def test_meteor_nltk_next_to_meteor15_differs(require_java, wordnet):
    hypotheses, references = FIXED_PAIRS
    result = score(hypotheses, references, meteor_nltk=True)
    assert {"meteor", "meteor_nltk"} <= result.keys()
    # The two implementations disagree by many points: never one column.
    assert result["meteor_nltk"] - result["meteor"] > 10


def test_debian_wordnet_copy_is_complete_and_reused(tmp_path):
    from qapgen.metrics.wordnet import DEBIAN_WORDNET_DIR, SOURCE_MARKER, WORDNET_FILES

    if not all((DEBIAN_WORDNET_DIR / name).is_file() for name in WORDNET_FILES):
        pytest.skip("Debian's wordnet-base and wordnet-sense-index are not installed")
    target = install_debian_wordnet(DEBIAN_WORDNET_DIR, tmp_path / "nltk_data")
    assert target == tmp_path / "nltk_data" / "corpora" / "wordnet"
    assert (target / "lexnames").read_text() == lexnames_text()
    assert (target / SOURCE_MARKER).read_text().strip() == str(DEBIAN_WORDNET_DIR)
    assert all((target / name).stat().st_size > 0 for name in WORDNET_FILES)
    assert [p.name for p in target.parent.iterdir()] == ["wordnet"]  # no staging left
    stamp = (target / "lexnames").stat().st_mtime_ns
    assert install_debian_wordnet(DEBIAN_WORDNET_DIR, tmp_path / "nltk_data") == target
    assert (target / "lexnames").stat().st_mtime_ns == stamp
