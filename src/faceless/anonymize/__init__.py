"""Pure operators that hide regions of an image: (image, regions) -> new image."""

from faceless.anonymize.operators import (
    Operator,
    OperatorSpec,
    Shape,
    apply_regions,
    redact,
    redaction_mask,
)

__all__ = ["Operator", "OperatorSpec", "Shape", "apply_regions", "redact", "redaction_mask"]
