"""The five quality attributes that ATTIQA pseudo-labels and pretrains on.

This tuple is the single source of truth for attribute names and their order:
teachers return scores in this order, label sidecars store columns in this
order, and the student network has one head per entry.
"""

ATTRIBUTES: tuple[str, ...] = ("sharpness", "brightness", "contrast", "colorfulness", "noisiness")

NUM_ATTRIBUTES = len(ATTRIBUTES)

QUALITY_HEADS: tuple[str, ...] = ("linear", "grounded")
"""The quality heads the student network can put over its features (:mod:`iqa.models`): ``linear``, a linear
read-out of the features; ``grounded``, a monotone function of the attribute heads plus a bounded residual
(``iqa.models.GroundedQualityHead``). Kept here, free of torch, so that command-line checks can list them."""
