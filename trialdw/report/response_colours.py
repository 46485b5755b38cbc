"""Colours of the confirmed best overall response (CBOR), shared by the
waterfall and swimmer plots so a colour means the same thing everywhere.
Chosen to stay distinguishable for the common colour-vision deficiencies
(dark/light green vs grey vs red-brown vs ochre differ in lightness too)."""

RESPONSE_ORDER = ("CR", "PR", "SD", "PD", "NE")
RESPONSE_COLOURS = {"CR": "#1b7837", "PR": "#7fbf7b", "SD": "#9e9e9e", "PD": "#b2182b", "NE": "#dfc27d"}
RESPONSE_NAMES = {
    "CR": "Complete response",
    "PR": "Partial response",
    "SD": "Stable disease",
    "PD": "Progressive disease",
    "NE": "Not evaluable",
}
