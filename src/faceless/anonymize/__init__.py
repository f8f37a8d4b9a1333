"""Hiding: pure operators (image, regions) -> new image, and the redactor that applies them."""

from faceless.anonymize.operators import (
    Operator,
    OperatorSpec,
    Shape,
    apply_regions,
    redact,
    redaction_mask,
)
from faceless.anonymize.redactor import Redactor

__all__ = ["Operator", "OperatorSpec", "Redactor", "Shape", "apply_regions", "redact",
           "redaction_mask"]
