"""Where the package's own files live: the built JS bundles and the shipped model files."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
STATIC = PACKAGE / "static"  # esbuild output of js/src/*.ts (git-ignored, shipped in the wheel)
ASSETS = PACKAGE / "assets"  # shipped weights: the default SAE, its checkpoints, the vision CNN
