"""Picture callbacks for TensorBoard; each lives in its own small file.

They share one shape (``base.FigureCallback``) and one protocol (``protocol.py``).
"""

from common.callbacks.alignment import AlignmentCallback
from common.callbacks.attention_maps import AttentionMapCallback
from common.callbacks.confusion_matrix import ConfusionMatrixCallback
from common.callbacks.epoch_timer import EpochTimer
from common.callbacks.feature_maps import FeatureMapCallback
from common.callbacks.forecast_plot import ForecastPlotCallback
from common.callbacks.gradcam import GradCamCallback
from common.callbacks.gradient_flow import GradientFlowCallback
from common.callbacks.prediction_grid import PredictionGridCallback
from common.callbacks.text_samples import TextSampleCallback
from common.callbacks.token_attributions import TokenAttributionCallback

__all__ = [
    "AlignmentCallback",
    "AttentionMapCallback",
    "ConfusionMatrixCallback",
    "EpochTimer",
    "FeatureMapCallback",
    "ForecastPlotCallback",
    "GradCamCallback",
    "GradientFlowCallback",
    "PredictionGridCallback",
    "TextSampleCallback",
    "TokenAttributionCallback",
]
