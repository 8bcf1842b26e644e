"""featureviz: two-way Jupyter widgets for mechanistic interpretability."""

from .analysis.activations import ActivationResult, activations, top_activating
from .analysis.circuits import Circuit, cluster_features, feature_circuit
from .analysis.checkpoints import CheckpointFrames, checkpoint_frames, sae_checkpoints
from .analysis.contrast import contrast
from .analysis.dashboard import DashboardData, dashboard_data
from .analysis.steering import SteeringResult, steer
from .datasets import emotion_prompts
from .export import export_html
from .loading import HubUnavailableError, load, load_default
from .sources import FeatureSource, HeadSource, NeuronSource, SAESource
from .widgets.circuit import CircuitView
from .widgets.contrast import ContrastView
from .widgets.scrubber import CheckpointScrubber
from .widgets.dashboard import Dashboard
from .widgets.heatmap import Heatmap
from .widgets.interpolation import Interpolation
from .widgets.linking import link
from . import vision  # fv.vision.visualize, fv.vision.Gallery, ...

__version__ = "0.1.0"

__all__ = [
    "ActivationResult", "CheckpointFrames", "Circuit", "CheckpointScrubber", "CircuitView", "ContrastView", "Dashboard", "DashboardData", "FeatureSource", "HeadSource", "Heatmap",
    "HubUnavailableError", "Interpolation", "NeuronSource", "SAESource", "SteeringResult",
    "activations", "checkpoint_frames", "cluster_features", "contrast", "dashboard_data", "emotion_prompts", "export_html", "feature_circuit", "link", "load", "load_default", "sae_checkpoints", "steer", "top_activating", "vision",
]
