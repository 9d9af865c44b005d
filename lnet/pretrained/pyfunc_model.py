"""MLflow "model from code" entry of a pretrained ensemble: MLflow runs this file to
build the pyfunc model (:class:`lnet.pretrained.serving.EnsemblePyfunc`)."""

import mlflow

from lnet.pretrained.serving import EnsemblePyfunc

mlflow.models.set_model(EnsemblePyfunc())
