"""The MLflow pyfunc face of the model: plain ``mlflow.pyfunc.load_model`` returns
calibrated probabilities (not class labels) from a frame of feature values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel  # mypy sees mlflow.pyfunc as a LazyLoader


class DetractorPyfunc(PythonModel):
    def load_context(self, context: Any) -> None:
        from training.model import DetractorModel

        self.model, self.meta = DetractorModel.load(Path(context.artifacts["bundle"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> np.ndarray:
        return self.model.predict_proba(model_input)
