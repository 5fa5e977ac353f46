"""The main job end to end (``pixelpad demo`` / ``make demo``), as cached stages that resume, and the
transfer study (``pixelpad study transfer``) built on the same stages."""

from pixelpad.demo.pipeline import DemoConfig, demo_stages, run_demo
from pixelpad.demo.stages import Stage, run_stages

__all__ = ["DemoConfig", "Stage", "demo_stages", "run_demo", "run_stages"]
