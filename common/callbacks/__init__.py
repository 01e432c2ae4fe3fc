"""Picture callbacks for TensorBoard; each lives in its own small file.

They share one shape (``base.FigureCallback``) and one protocol (``common/protocols.py``).
"""

from litlab.common.callbacks.alignment import AlignmentCallback
from litlab.common.callbacks.attention_maps import AttentionMapCallback
from litlab.common.callbacks.audio_samples import AudioSamplesCallback
from litlab.common.callbacks.confusion_matrix import ConfusionMatrixCallback
from litlab.common.callbacks.epoch_timer import EpochTimer
from litlab.common.callbacks.feature_maps import FeatureMapCallback
from litlab.common.callbacks.fit_clock import FitClock
from litlab.common.callbacks.forecast_plot import ForecastPlotCallback
from litlab.common.callbacks.gradcam import GradCamCallback
from litlab.common.callbacks.gradient_flow import GradientFlowCallback
from litlab.common.callbacks.prediction_grid import PredictionGridCallback
from litlab.common.callbacks.progress import ProgressBar
from litlab.common.callbacks.staged_unfreeze import StagedUnfreeze
from litlab.common.callbacks.text_samples import TextSampleCallback
from litlab.common.callbacks.token_attributions import TokenAttributionCallback

__all__ = [
    "AlignmentCallback",
    "AttentionMapCallback",
    "AudioSamplesCallback",
    "ConfusionMatrixCallback",
    "EpochTimer",
    "FeatureMapCallback",
    "FitClock",
    "ForecastPlotCallback",
    "GradCamCallback",
    "GradientFlowCallback",
    "PredictionGridCallback",
    "ProgressBar",
    "StagedUnfreeze",
    "TextSampleCallback",
    "TokenAttributionCallback",
]
