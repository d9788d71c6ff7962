"""Model-from-code entry point that MLflow stores with each model (no pickled objects).

MLflow executes this file when it loads the model; it is not imported by our code.
"""

import mlflow.models

from training.pyfunc import DetractorPyfunc

mlflow.models.set_model(DetractorPyfunc())
