"""Random draws shared by the simulation modules (always from a subject's own ``random.Random``)."""

from __future__ import annotations

import random


def pick(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def uniform(rng: random.Random, lo: float, hi: float) -> float:
    return lo + (hi - lo) * rng.random()
