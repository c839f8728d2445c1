"""The five quality attributes that ATTIQA pseudo-labels and pretrains on.

This tuple is the single source of truth for attribute names and their order:
teachers return scores in this order, label sidecars store columns in this
order, and the student network has one head per entry.
"""

ATTRIBUTES: tuple[str, ...] = ("sharpness", "brightness", "contrast", "colorfulness", "noisiness")

NUM_ATTRIBUTES = len(ATTRIBUTES)
