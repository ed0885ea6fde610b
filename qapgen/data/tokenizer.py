"""Tokenizers: T5's SentencePiece from the hub or a local folder, one trained offline, or a
word-level vocabulary built from the training split (DeepNQG's, as Du et al. 2017 had).

T5 conventions hold for every tokenizer qapgen uses: ``<pad>`` = 0, ``</s>`` = 1,
``<unk>`` = 2, ``</s>`` appended to every encoded text, and sentinel tokens
``<extra_id_0>`` ... which qapgen uses as task start tokens.
"""

from __future__ import annotations

import json
import string
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import UnigramTrainer
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

NUM_SENTINELS = 100
# Trained pieces scoring within this of the lowest are the trainer's character fallbacks.
FALLBACK_BAND = 0.1
ANSWER_START_TOKEN = "<extra_id_0>"
QUESTION_START_TOKEN = "<extra_id_1>"


class TokenizerNotFoundError(OSError):
    """A tokenizer could not be loaded; the message says how to use a local copy."""


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    """Load a T5 tokenizer from a local folder or, by name, from the Hugging Face hub."""
    local = Path(name_or_path).expanduser()
    try:
        if local.exists():
            return AutoTokenizer.from_pretrained(str(local))
        return AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise TokenizerNotFoundError(
            f"could not load tokenizer {name_or_path!r} ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}). Point data.tokenizer at a "
            "local folder saved with save_pretrained (e.g. a downloaded t5-base), or set "
            "data.tokenizer: train to train one on the training split offline."
        ) from error


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, output_dir: str | Path
) -> PreTrainedTokenizerFast:
    """Train a T5-compatible SentencePiece-style unigram tokenizer and save it.

    The special-token layout matches T5's, so the same model code serves pretrained and
    offline-trained vocabularies.
    """
    specials = ["<pad>", "</s>", "<unk>"]
    sentinels = [f"<extra_id_{i}>" for i in range(NUM_SENTINELS)]
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        unk_token="<unk>",
        # Every printable ASCII character stays in the vocabulary, so that prompts and
        # punctuation absent from the training text never become <unk>.
        initial_alphabet=list(string.printable.strip()),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer = canonical_unigram(tokenizer, specials)
    tokenizer.add_special_tokens(sentinels)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return _save_wrapped(tokenizer, sentinels, output_dir)


def build_word_tokenizer(
    texts: Iterable[str], vocab_size: int, output_dir: str | Path
) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over the ``vocab_size`` most frequent lowercased words of
    ``texts`` (ties broken alphabetically, so the same texts give the same ids), saved.

    Words are whitespace-separated with each punctuation mark split off, close to the
    Stanford tokens Du et al. used; rarer words become ``<unk>``. T5's special-token layout
    (``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2, sentinels, ``</s>`` appended) is kept, so the
    same model code and task start tokens serve it.
    """
    specials = ["<pad>", "</s>", "<unk>"]
    sentinels = [f"<extra_id_{i}>" for i in range(NUM_SENTINELS)]
    normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")]
    )
    counts: Counter[str] = Counter()
    for text in texts:
        words = pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))
        counts.update(word for word, _ in words)
    keep = max(vocab_size - len(specials) - len(sentinels), 1)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:keep]
    vocab = {token: index for index, token in enumerate(specials)}
    for word, _ in ranked:
        vocab.setdefault(word, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.add_special_tokens(sentinels)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return _save_wrapped(tokenizer, sentinels, output_dir)


def _save_wrapped(
    tokenizer: Tokenizer, sentinels: list[str], output_dir: str | Path
) -> PreTrainedTokenizerFast:
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        additional_special_tokens=sentinels,
    )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    wrapped.save_pretrained(str(output_dir))
    # Where it lives, as for a loaded tokenizer: checkpoints record this location.
    wrapped.name_or_path = str(output_dir)
    return wrapped


def canonical_unigram(tokenizer: Tokenizer, specials: list[str]) -> Tokenizer:
    """The trained unigram vocabulary in a fixed order with fixed scores.

    The trainer gives its lowest-scoring pieces (the character fallbacks) scores a hair
    apart in hash-map order, so two trainings on the same text differ in ids. Those pieces
    are put in sorted order with evenly spaced scores below the rest, and the other pieces
    ordered by (rounded) score then text: the same corpus always gives the same tokenizer.
    """
    data = json.loads(tokenizer.to_str())
    vocab = data["model"]["vocab"]
    fixed = [entry for entry in vocab if entry[0] in specials]
    rest = [entry for entry in vocab if entry[0] not in specials]
    floor = min(score for _, score in rest)
    band = sorted(piece for piece, score in rest if score < floor + FALLBACK_BAND)
    # Scores are rounded: the trainer's sums differ in the last bits from run to run.
    learned = sorted(
        ([piece, round(score, 8)] for piece, score in rest if score >= floor + FALLBACK_BAND),
        key=lambda entry: (-entry[1], entry[0]),
    )
    base = round(floor, 1) - FALLBACK_BAND
    data["model"]["vocab"] = [
        *fixed,
        *learned,
        *([piece, base - 1e-4 * index] for index, piece in enumerate(band)),
    ]
    data["model"]["unk_id"] = [entry[0] for entry in data["model"]["vocab"]].index("<unk>")
    return Tokenizer.from_str(json.dumps(data))


def start_token_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """The (answer, question) decoder start token ids: T5 sentinels 0 and 1."""
    ids = tokenizer.convert_tokens_to_ids([ANSWER_START_TOKEN, QUESTION_START_TOKEN])
    if tokenizer.unk_token_id in ids:
        raise ValueError(
            f"the tokenizer lacks {ANSWER_START_TOKEN} / {QUESTION_START_TOKEN}; "
            "qapgen needs T5's sentinel tokens as task start tokens"
        )
    return ids[0], ids[1]


def add_missing_tokens(tokenizer: PreTrainedTokenizerBase, tokens: Iterable[str]) -> list[str]:
    """Add ``tokens`` the tokenizer lacks as special tokens (kept whole, after every existing
    id); returns those added. T5's 32,100 tokens then stay within t5-base's 32,128 embedding
    rows, so a pretrained checkpoint needs no resizing for a few."""
    missing = [token for token in dict.fromkeys(tokens) if token not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    return missing
