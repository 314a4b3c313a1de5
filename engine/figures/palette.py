"""Colours and markers that read for colour-blind readers and in greyscale.

Colours: the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design",
https://jfly.uni-koeln.de/color/), black last. Every series also gets its own
marker shape, so a figure reads without colour at all.
"""

from __future__ import annotations

OKABE_ITO = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow (last: faint on white)
    "#000000",
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def colour(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def marker(i: int) -> str:
    return MARKERS[i % len(MARKERS)]
