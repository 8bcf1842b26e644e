"""featureviz: two-way Jupyter widgets for mechanistic interpretability.

Names are imported on first use (PEP 562), so ``import featureviz`` is instant and ``fv.DashboardData.load``
never pulls in TransformerLens or sae-lens; ``fv.load_default()`` imports only what loading needs.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the submodule that defines it
_EXPORTS = {
    "ActivationResult": "analysis.activations",
    "activations": "analysis.activations",
    "top_activating": "analysis.activations",
    "Circuit": "analysis.circuits",
    "cluster_features": "analysis.circuits",
    "feature_circuit": "analysis.circuits",
    "CheckpointFrames": "analysis.checkpoints",
    "checkpoint_frames": "analysis.checkpoints",
    "sae_checkpoints": "analysis.checkpoints",
    "contrast": "analysis.contrast",
    "DashboardData": "analysis.dashboard",
    "dashboard_data": "analysis.dashboard",
    "SteeringResult": "analysis.steering",
    "steer": "analysis.steering",
    "SteeringTarget": "analysis.steering_target",
    "check_steering_target": "analysis.steering_target",
    "pick_steering_target": "analysis.steering_target",
    "feature_scale": "analysis.steering_target",
    "FeatureScale": "analysis.steering_target",
    "emotion_prompts": "datasets",
    "heldout_texts": "datasets",
    "export_html": "export",
    "HubUnavailableError": "loading",
    "load": "loading",
    "load_default": "loading",
    "load_sae": "loading",
    "default_sae_hooks": "loading",
    "HFModel": "backends",
    "hooks": "backends",
    "CrosscoderSource": "crosscoders",
    "train_crosscoder": "analysis.crosscoder",
    "FeatureSource": "sources",
    "HeadSource": "sources",
    "HookNeuronSource": "sources",
    "NeuronSource": "sources",
    "SAESource": "sources",
    "TranscoderSource": "sources",
    "CircuitView": "widgets.circuit",
    "ContrastView": "widgets.contrast",
    "CheckpointScrubber": "widgets.scrubber",
    "Dashboard": "widgets.dashboard",
    "Explorer": "widgets.explorer",
    "Heatmap": "widgets.heatmap",
    "Interpolation": "widgets.interpolation",
    "link": "widgets.linking",
    "vision": "vision",  # a subpackage: fv.vision.visualize, fv.vision.Gallery, ...
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'featureviz' has no attribute {name!r}")
    module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
    value = module if _EXPORTS[name] == name else getattr(module, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted({*globals(), *_EXPORTS})
