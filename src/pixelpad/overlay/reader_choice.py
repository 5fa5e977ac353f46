"""Which reader to trust for one video: the template reader, the parser, or their blend.

Both readers give ``(N, 21)`` raw reads (button probabilities, stick values, NaN rows where the
overlay was not readable) and a per-frame confidence. Per video:

* each reader's confidence is the median of its per-frame scores (the template reader's: how well
  the skin's static parts correlate; the parser's: its "overlay visible" probability), and a
  reader below its threshold is not trusted;
* the two agree when their thresholded buttons match and their sticks are close on the frames both
  read; with high agreement their average is taken (it removes each reader's rare slips);
* when they disagree, a trusted template read wins: it compares the identified skin's own exact
  renderings, while the parser's "visible" probability only says an overlay is there, not that it
  was read well (it saturates near 1 even for a weak parser: on synthetic videos a confidence ratio
  picked the parser at stick R² -0.60 where the template read 0.86). The parser is used alone only
  where the template read is not trusted (an unfamiliar rendering, a wrong skin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixelpad.actions import AXIS_SLICE, BUTTON_SLICE

TEMPLATE, PARSER, BLEND = "template", "parser", "blend"


@dataclass(frozen=True)
class ChoiceConfig:
    """Thresholds of the per-video decision."""

    template_trusted: float = 0.4  # median static-part correlation of a trusted template read
    parser_trusted: float = 0.8  # median visible probability of a trusted parser read
    blend_agreement: float = 0.97  # agreement above which the two reads are averaged
    stick_tolerance: float = 0.15  # sticks within this (axis units) count as agreeing


@dataclass(frozen=True)
class Choice:
    """The reads to use and why: ``reader`` is template / parser / blend; scores in ``scores``."""

    reads: np.ndarray
    reader: str
    scores: dict[str, float]


def agreement(a: np.ndarray, b: np.ndarray, shown: np.ndarray, tolerance: float) -> float:
    """Share of (frame, shown control) cells where two ``(N, 21)`` reads agree; NaN rows are skipped."""
    both = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    if not both.any() or not shown.any():
        return float("nan")
    a, b = a[both][:, shown], b[both][:, shown]
    is_button = np.arange(len(shown))[shown] < BUTTON_SLICE.stop
    same = np.where(is_button, (a > 0.5) == (b > 0.5), np.abs(a - b) <= tolerance)
    return float(same.mean())


def choose(
    template: tuple[np.ndarray, np.ndarray] | None,
    parser: tuple[np.ndarray, np.ndarray] | None,
    shown: np.ndarray,
    config: ChoiceConfig = ChoiceConfig(),
) -> Choice:
    """Pick (or blend) the reads of one video.

    Args:
        template: ``(reads (N, 21), visibility (N,))`` of the template reader, or None.
        parser: ``(reads (N, 21), visible probability (N,))`` of the parser, or None.
        shown: ``(21,)`` bool, the controls the skin shows.
    """
    if template is None and parser is None:
        raise ValueError("choose() needs at least one reader's reads")
    if parser is None:
        return Choice(template[0], TEMPLATE, {"template_confidence": _median(template[1])})
    if template is None:
        return Choice(parser[0], PARSER, {"parser_confidence": _median(parser[1])})
    t_conf, p_conf = _median(template[1]), _median(parser[1])
    agree = agreement(template[0], parser[0], shown, config.stick_tolerance)
    scores = {"template_confidence": t_conf, "parser_confidence": p_conf, "agreement": agree}
    t_ok, p_ok = t_conf >= config.template_trusted, p_conf >= config.parser_trusted
    if t_ok and p_ok and agree >= config.blend_agreement:
        return Choice(_blend(template[0], parser[0]), BLEND, scores)
    if t_ok:
        return Choice(template[0], TEMPLATE, scores)
    if p_ok:
        return Choice(parser[0], PARSER, scores)
    return Choice(template[0], TEMPLATE, scores)  # neither trusted: the exact method, flagged by scores


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else float("nan")


def _blend(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Average where both read a frame, else whichever did: ``(N, 21)``."""
    out = np.where(np.isfinite(a), a, b)
    both = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    out[both, BUTTON_SLICE] = (a[both, BUTTON_SLICE] + b[both, BUTTON_SLICE]) / 2
    out[both, AXIS_SLICE] = (a[both, AXIS_SLICE] + b[both, AXIS_SLICE]) / 2
    return out
