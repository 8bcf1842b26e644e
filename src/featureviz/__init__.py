"""featureviz: two-way Jupyter widgets for mechanistic interpretability."""

from .analysis.activations import ActivationResult, activations, top_activating
from .analysis.contrast import contrast
from .datasets import emotion_prompts
from .loading import HubUnavailableError, load, load_default
from .sources import FeatureSource, NeuronSource, SAESource
from .widgets.contrast import ContrastView
from .widgets.heatmap import Heatmap

__version__ = "0.1.0"

__all__ = [
    "ActivationResult", "ContrastView", "FeatureSource", "Heatmap", "HubUnavailableError", "NeuronSource", "SAESource",
    "activations", "contrast", "emotion_prompts", "load", "load_default", "top_activating",
]
