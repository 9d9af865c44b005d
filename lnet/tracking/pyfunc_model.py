"""MLflow "model from code" entry: MLflow runs this file to build the pyfunc model."""

import mlflow

from lnet.tracking.pyfunc import LnetPyfunc

mlflow.models.set_model(LnetPyfunc())
