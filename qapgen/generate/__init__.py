"""Question-answer pairs from any text: readers, segmentation, generation, filtering."""

from qapgen.generate.consistency import ConsistencyFilter
from qapgen.generate.generator import GeneratedPair, GenerationSummary, QAPGenerator
from qapgen.generate.readers import Document, InputError, read_documents
from qapgen.metrics.token_f1 import token_f1

__all__ = [
    "ConsistencyFilter",
    "Document",
    "GeneratedPair",
    "GenerationSummary",
    "InputError",
    "QAPGenerator",
    "read_documents",
    "token_f1",
]
