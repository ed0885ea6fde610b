"""Paper-comparable QG/QA evaluation: BLEU-1..4, ROUGE-L and METEOR 1.5 (plus nltk's
METEOR under its own name), per example or grouped by context, DDP-safe.

Entry points: :func:`score` (a prediction set at once) and :class:`TaskMetrics` (one per
task and stage in a LightningModule). Importing this package does not import torch.
"""

from qapgen.metrics.meteor_java import (
    Meteor15,
    MeteorError,
    MeteorTimeoutError,
    MeteorUnavailableError,
    close_shared_meteor,
    shared_meteor,
)
from qapgen.metrics.normalize import normalize, tokenize
from qapgen.metrics.protocols import PROTOCOLS, group_by_context
from qapgen.metrics.scoring import METEOR_CHOICES, METRIC_KEYS, score
from qapgen.metrics.task_metrics import TaskMetrics
from qapgen.metrics.wordnet import WordNetUnavailableError, load_wordnet

__all__ = [
    "METEOR_CHOICES",
    "METRIC_KEYS",
    "PROTOCOLS",
    "Meteor15",
    "MeteorError",
    "MeteorTimeoutError",
    "MeteorUnavailableError",
    "TaskMetrics",
    "WordNetUnavailableError",
    "close_shared_meteor",
    "group_by_context",
    "load_wordnet",
    "normalize",
    "score",
    "shared_meteor",
    "tokenize",
]
