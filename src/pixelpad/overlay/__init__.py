"""Controller overlays: skins, synthetic overlay videos, training pairs, and finding the overlay.

Public names (imported lazily, so ``import pixelpad.overlay`` stays cheap):

* skins -- :class:`Skin` (``render(action) -> RGBA``, ``controls``, ``absent``, ``regions()``,
  ``sticks()``, ``pressed()``), :class:`StickGeometry`, :func:`load_skin`, :func:`load_skins`,
  :func:`default_skins_dir`, :func:`procedural_skins`, :func:`resize_skin`, :func:`fit_skin`,
  :class:`SkinError`;
* synthesis -- :func:`random_actions`, :class:`SequenceConfig`, :class:`Placement`,
  :func:`random_placement`, :func:`synthesize_video`, :class:`GroundTruth`,
  :func:`procedural_footage`, :func:`record_game`, :func:`video_footage`;
* parser training data -- :class:`PairGenerator`, :class:`PairConfig`, :class:`Pair`;
* localisation -- :class:`TemplateBank`, :func:`locate`, :func:`locate_frames`,
  :class:`LocateConfig`, :class:`Location`;
* reading -- :class:`TemplateReader` (known skin, no training), :class:`Parser` /
  :class:`ParserConfig` / :func:`train_parser` / :class:`TrainParserConfig` / :class:`GeneratorSource`
  (learned, any skin), :func:`choose` (per-video reader choice), :func:`smooth`, :func:`refine` /
  :class:`RefineConfig` (stick normalisation, null and chunk filters, action density).
"""

from __future__ import annotations

from pixelpad._lazy import lazy_getattr

_EXPORTS = {
    "Skin": "skin", "StickGeometry": "skin", "SkinError": "skin", "resize_skin": "skin", "fit_skin": "skin",
    "load_skin": "library", "load_skins": "library", "default_skins_dir": "library",
    "procedural_skins": "procedural",
    "random_actions": "sequences", "SequenceConfig": "sequences",
    "Placement": "composite", "random_placement": "composite",
    "synthesize_video": "synth", "GroundTruth": "synth",
    "procedural_footage": "footage", "record_game": "footage", "video_footage": "footage",
    "PairGenerator": "pairs", "PairConfig": "pairs", "Pair": "pairs",
    "TemplateBank": "bank",
    "locate": "locate", "locate_frames": "locate", "LocateConfig": "locate", "Location": "locate",
    "TemplateReader": "template_reader", "TemplateReaderConfig": "template_reader",
    "Parser": "parser", "ParserConfig": "parser", "train_parser": "parser_train",
    "TrainParserConfig": "parser_train", "GeneratorSource": "parser_data", "choose": "reader_choice",
    "smooth": "smoothing", "refine": "refine", "RefineConfig": "refine", "Refined": "refine",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
