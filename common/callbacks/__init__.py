"""Picture callbacks for TensorBoard; each lives in its own small file."""

from common.callbacks.confusion_matrix import ConfusionMatrixCallback
from common.callbacks.feature_maps import FeatureMapCallback
from common.callbacks.prediction_grid import PredictionGridCallback

__all__ = ["ConfusionMatrixCallback", "FeatureMapCallback", "PredictionGridCallback"]
