"""``pipelines/pretrained.py register``: a shipped model as a registered MLflow model.

The model folder is logged as an MLflow pyfunc model (:class:`EnsemblePyfunc`, the
folder as its artifact ``model``, lnet's code with it) in the experiment
``lnet-pretrained`` and registered as ``lnet-<name>`` with the alias ``champion``, so it
serves over REST like any registered lnet model::

    mlflow models serve -m "models:/lnet-<name>@champion" --env-manager local -p 5001

``predict`` takes the input of lnet's single-net pyfunc model
(:mod:`lnet.tracking.pyfunc`): ``{"V": (B, n), "E": (B, m)}`` (2-D: V ``(B, L1, L2)``,
3-D: ``(B, L1, L2, L3)``) and answers the model's counts ``(B, m)`` (the members' mean,
rounded below the model's ``integer_below``: what ``predict_counts`` returns);
``lnet.load_model("models:/lnet-<name>@champion")`` gives the
:class:`lnet.ensemble.EnsemblePredictor` back, intervals (and experts) included.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np

import lnet
from lnet.errors import OutOfRangeWarning
from lnet.pretrained import model_dir
from lnet.pretrained.folder import (
    CARD_JSON,
    CARD_MD,
    EXPERTS_DIR,
    expert_entries,
    expert_folders,
    read_ensemble,
)
from lnet.tracking.pyfunc import LnetPyfunc, _signature, _without_type_hint_advice, requirements

EXPERIMENT = "lnet-pretrained"

with _without_type_hint_advice():

    class EnsemblePyfunc(LnetPyfunc):
        """lnet's pyfunc model (same input, checks and errors) around a pretrained
        ensemble: ``predict`` answers its counts (``predict_counts``)."""

        # no type hints: MLflow would try to validate dict inputs against them
        def load_context(self, context):  # noqa: ANN001, ANN201
            self.predictor = read_ensemble(context.artifacts["model"])


def example_input(folder: str | os.PathLike) -> dict[str, np.ndarray]:
    """A small valid input for the signature and the input example: two potentials on
    the smallest training lattice of the model (from its input domain; 64 sites or
    16 per side without one), uniform on [0.1, 1.1), three energies each."""
    ensemble = read_ensemble(folder)
    domain, dim = ensemble.domain, ensemble.dim
    if domain is None:
        lattice = (64,) if dim == 1 else (16,) * dim
    elif dim == 1:
        lattice = (int(domain.sites.low),)
    else:
        lattice = tuple(int(r.low) for r in domain.sides)
    rng = np.random.default_rng(0)
    return {"V": rng.random((2, *lattice)) + 0.1, "E": rng.uniform(0.05, 1.0, (2, 3))}


def log_ensemble(folder: str | os.PathLike, name: str = "model") -> str:
    """Log the model folder as a pyfunc model (named ``name``) in the active run;
    returns the logged model's URI (``models:/m-<id>``). A model with experts
    (``experts.json``) travels with them: the artifact is the folder with each expert's
    folder copied to ``experts/<name>/`` inside it (:func:`lnet.pretrained.folder.expert_folders`)."""
    with tempfile.TemporaryDirectory(prefix="lnet-pretrained-") as tmp:
        if expert_entries(folder):
            bundle = Path(tmp) / Path(folder).name
            shutil.copytree(folder, bundle)
            for expert, _, path in expert_folders(folder):
                shutil.copytree(path, bundle / EXPERTS_DIR / expert, dirs_exist_ok=True)
            folder = bundle
        return _log_folder(folder, name)


def _log_folder(folder: str | os.PathLike, name: str) -> str:
    ensemble = read_ensemble(folder)
    with warnings.catch_warnings():  # MLflow's type-hint advice; the example's domain
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", OutOfRangeWarning)
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=str(Path(__file__).with_name("pyfunc_model.py")),
            input_example=example_input(folder),
            artifacts={"model": str(folder)},
            signature=_signature(ensemble),
            pip_requirements=requirements(),
            # the lnet package travels with the model: it loads without a checkout
            code_paths=[str(Path(lnet.__file__).parent)],
        )
    return info.model_uri  # models:/m-<id>: what MLflow 3 registers without a detour


@dataclass
class Registered:
    """The registered model: ``name`` (``lnet-<model>``), ``version``, the logging run's
    id and its model URI, and the URI to load or serve (``models:/<name>@champion``)."""

    name: str
    version: str
    run_id: str
    model_uri: str

    @property
    def champion_uri(self) -> str:
        from lnet.tracking.registry import CHAMPION

        return f"models:/{self.name}@{CHAMPION}"


def register(
    name: str,
    tracking_uri: str,
    root: str | os.PathLike | None = None,
    artifact_root: str | None = None,
) -> Registered:
    """Log the shipped model ``name`` (:func:`lnet.pretrained.model_dir`) as a pyfunc
    model in a run of the experiment ``lnet-pretrained`` (with its cards as artifacts),
    register it as a new version of ``lnet-<name>`` and point ``champion`` at it."""
    from lnet.tracking.registry import CHAMPION, registry_client
    from lnet.tracking.registry import register as register_version
    from lnet.tracking.run import tracked_run

    folder = model_dir(name, root)
    with tracked_run(
        tracking_uri=tracking_uri,
        experiment_name=EXPERIMENT,
        artifact_root=artifact_root,
        run_name=f"register-{name}",
        tags={"lnet.pretrained": name, "lnet.pretrained.stage": "register"},
    ) as run:
        mlflow.log_param("name", name)
        model_uri = log_ensemble(folder)
        for f in (CARD_MD, CARD_JSON):
            if (folder / f).is_file():
                mlflow.log_artifact(str(folder / f))
        version = register_version(model_uri, name)
        registry_client().set_registered_model_alias(version.name, CHAMPION, version.version)
        mlflow.set_tag("lnet.registered", f"{version.name}/{version.version}")
    return Registered(version.name, str(version.version), run.info.run_id, model_uri)


def serve_instructions(registered: Registered, tracking_uri: str) -> str:
    """How to load and serve the registered model, for the command line."""
    from lnet.tracking.server import redact

    uri = registered.champion_uri
    return "\n".join(
        [
            f"registered {registered.name} version {registered.version} "
            f"(alias champion; run {registered.run_id})",
            "load it in Python:",
            f'    lnet.load_model("{uri}")',
            "serve it over REST (inside the venv):",
            f'    MLFLOW_TRACKING_URI={redact(tracking_uri)} mlflow models serve -m "{uri}" '
            "--env-manager local -h 127.0.0.1 -p 5001",
            "    curl -s http://127.0.0.1:5001/invocations -H 'Content-Type: application/json' "
            '-d \'{"inputs": {"V": [[...]], "E": [[...]]}}\'   # -> counts (B, m)',
        ]
    )
