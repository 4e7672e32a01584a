"""The model's vocabulary: every code shared between modules, in one place.

Statuses, events and guarantee bits are stored in household arrays (int8 /
uint8); batches and pathways name rows of results. Never renumber a code:
stored results and registries depend on them.
"""

from __future__ import annotations

# ---------------------------------------------------------------- household status
# Status at the end of a year; every household is in exactly one. POOR and
# RETURNED are on the registry; NOT_REGISTERED is the near-poor pool.
POOR, EXITED, RETURNED, NOT_REGISTERED = 0, 1, 2, 3
STATUSES = ("poor", "exited", "returned", "not_registered")

# ---------------------------------------------------------------- events of a year
NO_EVENT, EXIT, RETURN, ENTRY = 0, 1, 2, 3
EVENTS = ("none", "exit", "return", "entry")

# ---------------------------------------------------------------- guarantees
# Bits of 两不愁三保障 plus safe water; food and clothing follow income.
HOUSING, WATER, SCHOOLING, MEDICAL = 1, 2, 4, 8
ALL_GUARANTEES = HOUSING | WATER | SCHOOLING | MEDICAL
GUARANTEES = {"housing": HOUSING, "water": WATER, "schooling": SCHOOLING, "medical": MEDICAL}

# ---------------------------------------------------------------- pathways
# The five batches (五个一批); the first four carry programme income in rows of
# ``State.batch_income``, the safety net tops income up to a floor.
INCOME_BATCHES = ("production", "relocation", "ecological", "education")
BATCHES = INCOME_BATCHES + ("safety_net",)
# Exit attribution adds "none": the household's own income alone sufficed.
ATTRIBUTION = BATCHES + ("none",)
# What a programme that is no pathway belongs to (housing, medical cover, ...).
GUARANTEE_BATCH = "guarantee"

# ---------------------------------------------------------------- targeting
# ``targeting.order``: who goes first when capacity is short.
POOREST_FIRST, CLOSEST_FIRST, RANDOM_ORDER = 0, 1, 2
TARGETING_ORDERS = ("poorest_first", "closest_first", "random")
