"""Question-answer pairs from any text: readers, segmentation, generation, filtering."""

from qapgen.generate.consistency import ConsistencyFilter, token_f1
from qapgen.generate.generator import GeneratedPair, GenerationSummary, QAPGenerator
from qapgen.generate.readers import Document, InputError, read_documents

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
