"""featureviz.vision: activation maximisation for the channels and neurons of torch vision models, across
training checkpoints, with an embedded small CNN trained on procedural images (works offline)."""

from .checkpoints import CheckpointGallery, checkpoint_gallery
from .cnn import VisionCNN, checkpoint_steps, load_checkpoint, load_checkpoints, training_metrics
from .data import FACTORS, class_colours, make_images
from .param import Transforms
from .visualize import DatasetExamples, Visualization, dataset_examples, unit_activations, visualize
from .widgets import Gallery, VisionScrubber

__all__ = [
    "CheckpointGallery",
    "DatasetExamples",
    "FACTORS",
    "Gallery",
    "Transforms",
    "VisionCNN",
    "VisionScrubber",
    "Visualization",
    "checkpoint_gallery",
    "checkpoint_steps",
    "class_colours",
    "dataset_examples",
    "load_checkpoint",
    "load_checkpoints",
    "make_images",
    "training_metrics",
    "unit_activations",
    "visualize",
]
