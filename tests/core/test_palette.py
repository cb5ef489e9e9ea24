"""The palette of static/css/crm.css (issue 16 item 12): every colour that means something stands
out from the card it is drawn on, the colours of one scale stay apart for colour-blind readers,
and charts take their colours from the palette only.

Contrast is WCAG 2.2's ratio of relative luminances (https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio):
3:1 for graphical objects (SC 1.4.11), 4.5:1 for text (SC 1.4.3). Colour blindness is simulated
with Machado, Oliveira & Fernandes (2009), "A Physiologically-based Model for Simulation of Color
Vision Deficiency", IEEE TVCG 15(6), severity 1.0 matrices applied to linear RGB; distances are
CIEDE2000 (Sharma, Wu & Dalal 2005) in CIELAB under D65.
"""
from __future__ import annotations

import ast
import itertools
import math
import re
from pathlib import Path

import pytest

from core import charts

ROOT = Path(__file__).resolve().parent.parent.parent
CSS = ROOT / "static" / "css" / "crm.css"

# Machado et al. 2009, Table 1 at severity 1.0 (linear RGB in, linear RGB out).
MACHADO = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602),
                   (0.004733, 0.691367, 0.303900)),
}
VISION = (None, *MACHADO)  # normal vision, then the three dichromacies
# The smallest CIEDE2000 distance allowed between two colours of one scale, in every vision. The
# old dashboard's high/low pair (#dc2626 red, #16a34a green) is 7.9 apart for a deuteranope:
# the same olive twice.
MIN_DISTANCE = 12.0
CARD = "#FFFFFF"
SCALES = {
    "churn risk": ("risk-low", "risk-medium", "risk-high"),
    "value": ("value-low", "value-medium", "value-high"),
    "sentiment": ("sentiment-negative", "sentiment-neutral", "sentiment-positive"),
    "neutral series": ("series-1", "series-2"),
}


def palette() -> dict[str, str]:
    """Every ``--name:#RRGGBB`` custom property of the stylesheet's ``:root`` blocks."""
    text = CSS.read_text(encoding="utf-8")
    found = {}
    for block in re.findall(r":root\s*\{([^}]*)\}", text):
        for name, value in re.findall(r"--([a-z0-9-]+)\s*:\s*(#[0-9A-Fa-f]{6})\b", block):
            found[name] = value.upper()
    return found


def linear(hex_colour: str) -> tuple[float, float, float]:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return tuple(channel(int(hex_colour[i:i + 2], 16) / 255) for i in (1, 3, 5))


def luminance(hex_colour: str) -> float:
    r, g, b = linear(hex_colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def seen(hex_colour: str, vision: str | None) -> tuple[float, float, float]:
    """The colour in CIELAB as a viewer with ``vision`` sees it."""
    rgb = linear(hex_colour)
    if vision is not None:
        rgb = tuple(min(1.0, max(0.0, sum(m * c for m, c in zip(row, rgb)))) for row in MACHADO[vision])
    r, g, b = rgb
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def ciede2000(lab1, lab2) -> float:
    """Sharma, Wu & Dalal (2005), equations 2-23."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean ** 7 / (c_mean ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dh = h2p - h1p
    if c1p * c2p == 0:
        dh = 0.0
    elif dh > 180:
        dh -= 360
    elif dh < -180:
        dh += 360
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_mean = (h1p + h2p) / 2
    else:
        h_mean = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(h_mean - 30)) + 0.24 * math.cos(math.radians(2 * h_mean))
         + 0.32 * math.cos(math.radians(3 * h_mean + 6)) - 0.20 * math.cos(math.radians(4 * h_mean - 63)))
    rotation = 30 * math.exp(-(((h_mean - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_mean ** 7 / (cp_mean ** 7 + 25 ** 7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_mean, 1 + 0.015 * cp_mean * t
    r_t = -math.sin(math.radians(2 * rotation)) * r_c
    return math.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h))


def distance(a: str, b: str, vision: str | None) -> float:
    return ciede2000(seen(a, vision), seen(b, vision))


# --- the measures themselves, against published values --------------------------------------

def test_the_measures_match_published_values():
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)  # the usual AA grey
    # Sharma et al. 2005, Table 1, pairs 1 and 17.
    assert ciede2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert ciede2000((50, 2.5, 0), (73, 25, -18)) == pytest.approx(27.1492, abs=1e-4)
    # The old dashboard's colours: a deuteranope could not tell its red from its green, nor a
    # protanope its green from its amber; normal vision can.
    assert distance("#DC2626", "#16A34A", None) > 60
    assert distance("#DC2626", "#16A34A", "deuteranopia") < MIN_DISTANCE
    assert distance("#16A34A", "#F59E0B", "protanopia") < MIN_DISTANCE


# --- the palette ---------------------------------------------------------------------------

def test_every_colour_the_charts_name_is_in_the_palette():
    colours = palette()
    named = [*charts.RISK.values(), *charts.VALUE.values(), *charts.SENTIMENT.values(), *charts.SERIES]
    names = [re.fullmatch(r"var\(--([a-z0-9-]+)\)", token).group(1) for token in named]
    assert [n for n in names if n not in colours] == []
    assert {n for scale in SCALES.values() for n in scale} <= set(colours)


@pytest.mark.parametrize("name", [n for scale in SCALES.values() for n in scale])
def test_each_meaningful_colour_stands_out_from_the_card(name):
    assert contrast(palette()[name], CARD) >= 3.0, name


@pytest.mark.parametrize("step", range(5))
def test_each_shade_of_the_rfm_grid_has_legible_text(step):
    colours = palette()
    assert contrast(colours[f"heat-{step}"], colours[f"heat-{step}-text"]) >= 4.5


@pytest.mark.parametrize(("scale", "vision"), [(s, v) for s in SCALES for v in VISION])
def test_the_colours_of_a_scale_stay_apart_in_every_vision(scale, vision):
    colours = palette()
    too_close = [(a, b, round(distance(colours[a], colours[b], vision), 1))
                 for a, b in itertools.combinations(SCALES[scale], 2)
                 if distance(colours[a], colours[b], vision) < MIN_DISTANCE]
    assert too_close == []


@pytest.mark.parametrize("vision", VISION)
def test_high_value_and_high_churn_risk_never_look_alike(vision):
    colours = palette()
    assert colours["value-high"] != colours["risk-high"]
    assert distance(colours["value-high"], colours["risk-high"], vision) >= MIN_DISTANCE


def test_no_chart_config_in_python_writes_a_colour_of_its_own():
    """Colours come from the palette by name (core.charts), never as literals in a chart config."""
    literals = []
    for directory in ("analytics", "campaigns", "core", "customers", "intake", "webhooks"):
        for path in (ROOT / directory).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Dict):
                    continue
                for key, value in zip(node.keys, node.values):
                    if (isinstance(key, ast.Constant) and str(key.value).endswith("Color")
                            and isinstance(value, ast.Constant) and isinstance(value.value, str)):
                        literals.append(f"{path.relative_to(ROOT)}:{node.lineno} {value.value}")
    assert literals == []
