"""WordNet for nltk's METEOR, offline: nltk's own data, or Debian's WordNet 3.0 files.

nltk reads WordNet only from inside its data directories (it refuses other paths), in
the layout ``<root>/corpora/wordnet/``. Debian's ``wordnet-base`` and
``wordnet-sense-index`` packages install the WordNet 3.0 database files in
``/usr/share/wordnet`` but not ``lexnames``, the 45-line
table of lexicographer files that is part of WordNet's published file format (see
``lexnames(5WN)``) and that nltk's reader loads first. So when nltk has no WordNet of
its own, the Debian files are copied, once, into a private nltk data root in the user's
cache together with that table, and the root is added to ``nltk.data.path``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path

import nltk
from nltk.corpus.reader.wordnet import WordNetCorpusReader

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
# Files nltk's reader opens. index.sense comes from Debian's wordnet-sense-index package:
# nltk's reader maps sense keys through it while it is being constructed.
WORDNET_FILES = (
    tuple(f"{kind}.{pos}" for kind in ("index", "data") for pos in ("noun", "verb", "adj", "adv"))
    + tuple(f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv"))
    + ("index.sense",)
)

# WordNet 3.0's lexnames file: file number, lexicographer file name, syntactic category
# (1 noun, 2 verb, 3 adjective, 4 adverb). Synset records refer to these by number.
LEXICOGRAPHER_FILES = (
    ("adj.all", 3), ("adj.pert", 3), ("adv.all", 4), ("noun.Tops", 1), ("noun.act", 1),
    ("noun.animal", 1), ("noun.artifact", 1), ("noun.attribute", 1), ("noun.body", 1),
    ("noun.cognition", 1), ("noun.communication", 1), ("noun.event", 1),
    ("noun.feeling", 1), ("noun.food", 1), ("noun.group", 1), ("noun.location", 1),
    ("noun.motive", 1), ("noun.object", 1), ("noun.person", 1), ("noun.phenomenon", 1),
    ("noun.plant", 1), ("noun.possession", 1), ("noun.process", 1), ("noun.quantity", 1),
    ("noun.relation", 1), ("noun.shape", 1), ("noun.state", 1), ("noun.substance", 1),
    ("noun.time", 1), ("verb.body", 2), ("verb.change", 2), ("verb.cognition", 2),
    ("verb.communication", 2), ("verb.competition", 2), ("verb.consumption", 2),
    ("verb.contact", 2), ("verb.creation", 2), ("verb.emotion", 2), ("verb.motion", 2),
    ("verb.perception", 2), ("verb.possession", 2), ("verb.social", 2),
    ("verb.stative", 2), ("verb.weather", 2), ("adj.ppl", 3),
)  # fmt: skip

# Written into a copy this module made, naming the Debian directory it came from.
SOURCE_MARKER = "qapgen-wordnet-source.txt"

_loaded: tuple[WordNetCorpusReader, str] | None = None
_load_lock = threading.Lock()


class WordNetUnavailableError(RuntimeError):
    """No WordNet could be found for nltk's METEOR."""


def lexnames_text() -> str:
    """The ``lexnames`` file of WordNet 3.0, as its file format specifies it."""
    return "".join(
        f"{number:02d}\t{name}\t{category}\n"
        for number, (name, category) in enumerate(LEXICOGRAPHER_FILES)
    )


def cache_data_root() -> Path:
    """The private nltk data root this module fills: ``$QAPGEN_CACHE_DIR/nltk_data``,
    else ``$XDG_CACHE_HOME/qapgen/nltk_data``, else ``~/.cache/qapgen/nltk_data``."""
    if os.environ.get("QAPGEN_CACHE_DIR"):
        return Path(os.environ["QAPGEN_CACHE_DIR"]) / "nltk_data"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "qapgen" / "nltk_data"


def install_debian_wordnet(source: Path, data_root: Path) -> Path:
    """Copy Debian's WordNet files from ``source`` into ``data_root/corpora/wordnet``,
    adding ``lexnames``; returns that directory. A complete copy is reused as it is."""
    target = data_root / "corpora" / "wordnet"
    if (target / "lexnames").is_file():
        return target
    missing = [name for name in WORDNET_FILES if not (source / name).is_file()]
    if missing:
        raise WordNetUnavailableError(
            f"{source} lacks WordNet files: {', '.join(missing)} "
            "(Debian/Ubuntu: apt-get install wordnet-base wordnet-sense-index)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename: concurrent processes (DDP ranks) never see a
    # half-written copy, and the loser of the race keeps the winner's.
    staging = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=target.parent))
    try:
        for name in WORDNET_FILES:
            shutil.copyfile(source / name, staging / name)
        (staging / "lexnames").write_text(lexnames_text(), encoding="utf-8")
        (staging / SOURCE_MARKER).write_text(f"{source}\n", encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp's 0700 is fine for nltk, but keep it readable
        try:
            staging.rename(target)
        except OSError:
            if not (target / "lexnames").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _nltk_reader(root: str | Path) -> WordNetCorpusReader:
    with warnings.catch_warnings():
        # Without the multilingual OMW data nltk warns; METEOR uses English only.
        warnings.filterwarnings("ignore", message="The multilingual functions")
        return WordNetCorpusReader(nltk.data.FileSystemPathPointer(str(root)), None)


def load_wordnet(debian_dir: Path | None = None) -> tuple[WordNetCorpusReader, str]:
    """A WordNet reader for nltk's METEOR and a line saying where it came from.

    Uses nltk's own ``corpora/wordnet`` when it has one; otherwise Debian's files from
    ``debian_dir`` (default ``$QAPGEN_WORDNET_DIR`` or ``/usr/share/wordnet``). Raises
    :class:`WordNetUnavailableError`, saying what to install, when neither exists.
    """
    global _loaded
    with _load_lock:
        if _loaded is not None and debian_dir is None:
            return _loaded
        loaded = _locate(debian_dir)
        if debian_dir is None:
            _loaded = loaded
        return loaded


def _locate(debian_dir: Path | None) -> tuple[WordNetCorpusReader, str]:
    if debian_dir is None:
        try:
            found = Path(str(nltk.data.find("corpora/wordnet")))
        except LookupError:
            found = None
        if found is not None and not (found / SOURCE_MARKER).is_file():
            from nltk.corpus import wordnet

            return wordnet, f"WordNet from nltk data ({found})"
    source = Path(debian_dir or os.environ.get("QAPGEN_WORDNET_DIR") or DEBIAN_WORDNET_DIR)
    if not (source / "data.noun").is_file():
        raise WordNetUnavailableError(
            "nltk's METEOR needs WordNet: none in nltk's data directories and no WordNet "
            f"3.0 files in {source} (Debian/Ubuntu: apt-get install wordnet-base "
            "wordnet-sense-index)"
        )
    data_root = cache_data_root()
    target = install_debian_wordnet(source, data_root)
    # nltk opens corpus files only under the roots listed in nltk.data.path.
    if str(data_root) not in map(str, nltk.data.path):
        nltk.data.path.append(str(data_root))
    return _nltk_reader(target), f"WordNet 3.0 from {source} (Debian packages)"
