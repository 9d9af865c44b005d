"""The training pipeline behind ``pipelines/train.py``: data -> fit -> evaluate -> MLflow.

``train(cfg)`` builds (or reuses) the dataset, fits the model (gradient training for
networks, the closed-form fit for laws), evaluates every split with the same
:class:`lnet.predict.Predictor` a user gets from ``lnet.load_model``, and leaves a
complete MLflow run: config, git state, dataset input, the input domain of the
training data (``input_domain.json`` and ``input_domain.*`` params), parameter count,
per-epoch and final metrics, timing, plots, best checkpoint and the model (which carries
its input domain: :class:`lnet.predict.Predictor` warns about inputs outside it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytorch_lightning as pl
import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from lnet import pretrained
from lnet.config_keys import check_constructor_keys
from lnet.data import CachedDataModule
from lnet.data.spec import check_lattice
from lnet.domain import InputDomain, is_size_free
from lnet.errors import ConfigError
from lnet.evaluation.config import eval_config
from lnet.evaluation.families import evaluate_families
from lnet.evaluation.lattices import evaluate_lattices
from lnet.evaluation.laws import evaluate_laws
from lnet.models.metrics import bootstrap_interval, counting_metrics, eigenvalue_metrics
from lnet.predict import Predictor
from lnet.sweep import note_run
from lnet.tasks import COUNTING, EIGENVALUES
from lnet.tracking import stop
from lnet.tracking.lightning import RunLogger, StopOnSignal
from lnet.tracking.pyfunc import log_model
from lnet.tracking.registry import register
from lnet.tracking.results import log_dataset, log_domain, log_result, log_test_figures
from lnet.tracking.run import git_info, log_config, tracked_run

SPLITS = ("train", "val", "test")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@dataclass
class TrainResult:
    run_id: str
    metrics: dict[str, float]
    model_uri: str | None
    module: Any = field(repr=False, default=None)
    datamodule: Any = field(repr=False, default=None)


def model_name(cfg: DictConfig) -> str:
    """The model's config name (``landscape_net``, ...) in run names and tags: the class's
    (:meth:`lnet.models.protocol.LnetModel.config_name`, its ``conf/model/`` file), with a
    ``_<dim>d`` suffix for ``model.net.dim`` > 1 (``universal_landscape_net_3d``)."""
    name = get_class(str(cfg.model.net._target_)).config_name()
    dim = cfg.model.net.get("dim", 1)
    if (
        isinstance(dim, int)
        and not isinstance(dim, bool)
        and dim > 1
        and not name.endswith(f"_{dim}d")
    ):
        name = f"{name}_{dim}d"
    return name


def evaluate(
    predictor: Predictor,
    arrays: dict[str, dict[str, np.ndarray]],
    max_potentials: int | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Final metrics and predictions per split, through the user-facing predictor.

    ``max_potentials`` caps how many potentials of a split are evaluated (the first
    ones, so the subset is fixed by the data seed): a 3000-potential training set
    would otherwise cost minutes of inference for the train metrics alone.
    """
    metrics, predictions = {}, {}
    for split in SPLITS:
        a = {k: v[:max_potentials] for k, v in arrays[split].items()}
        if predictor.task == COUNTING:
            pred = predictor.predict_counts(a["V"], a["E"])
            metrics[split] = counting_metrics(pred, a["N"])
        else:
            pred = predictor.predict_eigenvalues(a["V"])
            metrics[split] = eigenvalue_metrics(pred, a["eigenvalues"])
        predictions[split] = pred
    return metrics, predictions


def _make_trainer(cfg: DictConfig, logger: Any) -> pl.Trainer:
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    callbacks.append(StopOnSignal())  # Ctrl-C / SIGTERM: stop at the next batch boundary
    return instantiate(cfg.trainer, callbacks=callbacks, logger=logger)


def _resume_checkpoint(cfg: DictConfig, run_id: str) -> str:
    """The last checkpoint of an earlier run, found through its ``lnet.checkpoint_dir`` tag."""
    client = mlflow.MlflowClient(cfg.logger.tracking_uri)
    try:
        run = client.get_run(run_id)
    except mlflow.exceptions.MlflowException:
        raise ConfigError(
            "resume", f"no MLflow run {run_id!r} in {cfg.logger.tracking_uri}"
        ) from None
    folder = run.data.tags.get("lnet.checkpoint_dir")
    last = Path(folder, "last.ckpt") if folder else None
    if last is None or not last.exists():
        raise ConfigError("resume", f"run {run_id} has no last checkpoint to resume from ({last})")
    return str(last)


# Rank 0 resolves ``resume=<run id>`` to a checkpoint file and hands it to the DDP ranks
# it launches through the environment, so every rank restores the very same file.
RESUME_ENV = "LNET_RESUME_CHECKPOINT"


@dataclass(frozen=True)
class StartPoint:
    """Where training starts.

    - ``resume``: continue ``resume_ckpt`` (weights, optimizer, scheduler, epoch and
      step counters) in the same MLflow run (``resume=<run id>``).
    - ``init_ckpt``: a fine-tune (``ckpt_path=<file>`` or
      ``ckpt_path=pretrained:<name>/<seed>``): a new run whose weights and input
      normalisation are loaded from that file; optimizer, scheduler and epoch counter
      start afresh. ``init_source`` is ``ckpt_path`` as given and ``init_parent`` the
      run that trained a pretrained member (from its model card; None for a file).
    """

    resume_run: str | None = None
    resume_ckpt: str | None = None
    init_ckpt: str | None = None
    init_source: str | None = None
    init_parent: str | None = None


def start_point(cfg: DictConfig) -> StartPoint:
    resume, init = cfg.get("resume"), cfg.get("ckpt_path")
    if resume and init:
        raise ConfigError(
            "ckpt_path", "give either resume=<run id> (continue) or ckpt_path=<file> (fine-tune)"
        )
    if resume:
        ckpt = os.environ.get(RESUME_ENV) if process_rank() > 0 else None
        return StartPoint(str(resume), ckpt or _resume_checkpoint(cfg, str(resume)))
    if init:
        init = str(init)
        if init.startswith(pretrained.PREFIX):
            try:
                path, run = pretrained.member(init)
            except pretrained.PretrainedError as err:
                raise ConfigError("ckpt_path", str(err)) from None
            return StartPoint(init_ckpt=str(path), init_source=init, init_parent=run)
        if not Path(init).is_file():
            raise ConfigError("ckpt_path", f"no checkpoint file at {init}")
        return StartPoint(init_ckpt=init, init_source=init)
    return StartPoint()


def _load_weights(module: pl.LightningModule, ckpt: str) -> None:
    """Weights (and the normalisation buffers they were trained with) of a checkpoint:
    a Lightning checkpoint (``state_dict`` of the whole module) or a net saved by
    :func:`lnet.predict.save_net` (a pretrained member), whose class and constructor
    arguments must be those of ``model.net``."""
    blob = torch.load(ckpt, map_location="cpu", weights_only=True)
    if "class" not in blob:
        module.load_state_dict(blob["state_dict"])
        return
    net = module.net
    if blob["class"] not in (net.qualified_name(), type(net).__name__):
        raise ConfigError(
            "ckpt_path", f"{ckpt} holds a {blob['class']} but model.net is a {net.qualified_name()}"
        )
    # the saved net as it loads: arguments added to the class since it was saved take
    # their defaults (as lnet.predict.load_net builds it)
    from lnet.predict import load_net

    saved = load_net(ckpt).config
    differ = {
        key: (saved.get(key), value) for key, value in net.config.items() if saved.get(key) != value
    }
    if differ:
        detail = "; ".join(
            f"{k}: {saved!r} there, {now!r} here" for k, (saved, now) in differ.items()
        )
        raise ConfigError(
            "ckpt_path", f"{ckpt} was built with other model.net arguments ({detail})"
        )
    net.load_state_dict(blob["state_dict"])


def _fit_network(
    cfg: DictConfig,
    module: pl.LightningModule,
    dm: CachedDataModule,
    logger: Any,
    start: StartPoint,
) -> dict[str, Any]:
    """Gradient training (every DDP rank runs this); returns epochs, steps, best checkpoint."""
    if start.init_ckpt:
        _load_weights(module, start.init_ckpt)
    handing_over = bool(start.resume_ckpt) and process_rank() == 0
    if handing_over:
        os.environ[RESUME_ENV] = start.resume_ckpt  # inherited by the ranks DDP launches
    trainer = _make_trainer(cfg, logger)
    try:
        trainer.fit(
            module,
            datamodule=dm,
            ckpt_path=start.resume_ckpt,
            weights_only=True if start.resume_ckpt else None,
        )
    finally:
        if handing_over:  # not for the next job of a multirun in this process
            os.environ.pop(RESUME_ENV, None)
    info: dict[str, Any] = {"epochs": trainer.current_epoch, "global_step": trainer.global_step}
    ckpt = trainer.checkpoint_callback
    best = getattr(ckpt, "best_model_path", "") if ckpt is not None else ""
    if best and Path(best).exists():
        _load_weights(module, best)
        info["best_checkpoint"] = best
    return info


def process_rank() -> int:
    """Global rank of this process in a distributed job (0 when not distributed).

    Lightning's DDP launcher re-runs the training command for ranks 1..N-1 with
    ``RANK``/``LOCAL_RANK`` set; only rank 0 owns the MLflow run.
    """
    for var in ("RANK", "LOCAL_RANK"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


def build(cfg: DictConfig) -> tuple[pl.LightningModule, CachedDataModule]:
    """Stage 1: seed, data module and model from the config; their tasks must agree."""
    if cfg.get("seed") is not None:
        pl.seed_everything(int(cfg.seed), workers=True)
    if cfg.get("register") and not cfg.logger.get("log_model", True):
        raise ConfigError("register", "needs logger.log_model=true (there is no model to register)")
    check_constructor_keys(cfg)  # a key the trainer, a callback, the model or data cannot take
    if "n" in cfg.data:  # the lattice first: a model config may derive its sizes from it
        check_lattice(cfg.data.get("n"), cfg.data.get("dim", 1), cfg.data.get("shape"))
    _check_dims(cfg)  # before the model: a 1-D model config may interpolate ${data.n}
    module = instantiate(cfg.model)
    data_task = get_class(str(cfg.data._target_)).task  # checked before the data is built
    if module.task != data_task:
        raise ConfigError(
            "model",
            f"model {model_name(cfg)!r} is a '{module.task}' model but data is '{data_task}'"
            f" (use data={'eigenvalues' if module.task == 'eigenvalues' else 'counting'})",
        )
    _check_dims(cfg, int(getattr(module.net, "dim", 1)), module.task)
    net_shape, data_shape = getattr(module.net, "shape", None), cfg.data.get("shape")
    if net_shape is not None and data_shape is not None and list(net_shape) != list(data_shape):
        raise ConfigError(
            "model.net.shape",
            f"is {list(net_shape)} but the data lattice is data.shape={list(data_shape)}",
        )
    eval_config(cfg, module.task)  # the eval group (eval.sizes, eval.families, ...) before any work
    dm: CachedDataModule = instantiate(cfg.data)
    return module, dm


def _check_dims(cfg: DictConfig, net_dim: int | None = None, task: str | None = None) -> None:
    """The model's lattice dimension must be the data's (``data.dim``, 1 if absent):
    ``net_dim`` the built net's, else ``model.net.dim`` or the target class's ``dim``
    (1 if absent); ``task`` the model's, for the hint. Checked before data is built."""
    if net_dim is None:
        net_cfg = cfg.model.get("net") or {}
        try:
            cls = get_class(str(net_cfg.get("_target_")))
        except Exception:  # noqa: BLE001  (instantiate reports a bad target)
            return
        task = getattr(cls, "task", None)
        net_dim = net_cfg.get("dim", getattr(cls, "dim", 1))
        if net_dim not in (1, 2, 3) or isinstance(net_dim, bool):
            return  # the model names model.net.dim
    data_dim = cfg.data.get("dim", 1)
    if data_dim not in (1, 2, 3) or isinstance(data_dim, bool):
        return  # the data module names data.dim
    if net_dim != data_dim:
        data = "eigenvalues" if task == EIGENVALUES else "counting"
        hint = (
            f"data={data}_{net_dim}d" if net_dim > 1 else f"data={data} (or a *_{data_dim}d model)"
        )
        raise ConfigError(
            "model",
            f"model {model_name(cfg)!r} is a {net_dim}-D model but the data is {data_dim}-D "
            f"(data.dim={data_dim}); use {hint}",
        )


def _prepare(cfg: DictConfig, module: pl.LightningModule, dm: CachedDataModule) -> None:
    dm.prepare_data()
    dm.setup()
    module.set_stats(dm.stats)


def _train_worker(cfg: DictConfig, module: pl.LightningModule, dm: CachedDataModule) -> TrainResult:
    """Ranks > 0 of a DDP job: same data, model, trainer and start point; no MLflow run.

    A terminal's Ctrl-C reaches every rank: here too it only requests a stop, and the
    ranks agree on the batch boundary to stop at (:class:`StopOnSignal`)."""
    start = start_point(cfg)
    with stop.signals_set_flag():
        _prepare(cfg, module, dm)
        _fit_network(cfg, module, dm, False, start)
    return TrainResult("", {}, None, module, dm)


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parent_run(checkpoint: str, tracking_uri: str) -> str | None:
    """The run whose checkpoint folder (tag ``lnet.checkpoint_dir``) holds ``checkpoint``,
    in any experiment of the store; None when no run, or more than one, claims it."""
    folder = Path(checkpoint).parent
    names = {str(folder), str(folder.resolve())}
    if any("'" in name for name in names):
        return None  # not expressible in an MLflow filter string
    client = mlflow.MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    found = {
        run.info.run_id
        for name in names
        for run in client.search_runs(
            experiments, filter_string=f"tags.`lnet.checkpoint_dir` = '{name}'"
        )
    }
    return found.pop() if len(found) == 1 else None


def init_checkpoint_tags(start: StartPoint, tracking_uri: str) -> dict[str, str]:
    """Provenance of a fine-tune's starting weights: ``ckpt_path`` as given
    (``lnet.init_checkpoint``), the file's sha256 and the run that trained it
    (``lnet.parent_run``): for a file, the run of this store whose checkpoint folder
    holds it; for a pretrained member, the run its model card names."""
    if start.init_ckpt is None:
        raise ValueError("init_checkpoint_tags needs a fine-tune's start point (init_ckpt)")
    tags = {
        "lnet.init_checkpoint": start.init_source or start.init_ckpt,
        "lnet.init_checkpoint_sha256": file_sha256(start.init_ckpt),
    }
    parent = start.init_parent
    if parent is None and not (start.init_source or "").startswith(pretrained.PREFIX):
        parent = parent_run(start.init_ckpt, tracking_uri)
    if parent:
        tags["lnet.parent_run"] = parent
    return tags


def _log_inputs(
    cfg: DictConfig, dm: CachedDataModule, start: StartPoint, domain: InputDomain
) -> None:
    """Stage 2: config, start point, dataset and its input domain into the open run."""
    if start.resume_run:  # same run: params are immutable, keep the new config as an artifact
        mlflow.log_dict(
            OmegaConf.to_container(cfg, resolve=True), f"config_resume_{int(time.time())}.yaml"
        )
    else:
        log_config(cfg)
        log_dataset(dm)
    log_domain(domain, params=not start.resume_run)
    if start.init_ckpt:
        mlflow.set_tags(init_checkpoint_tags(start, cfg.logger.tracking_uri))
    checkpoint_dir = OmegaConf.select(cfg, "callbacks.model_checkpoint.dirpath")
    if checkpoint_dir:
        mlflow.set_tag("lnet.checkpoint_dir", str(checkpoint_dir))


def fit(
    cfg: DictConfig,
    module: pl.LightningModule,
    dm: CachedDataModule,
    run_id: str,
    start: StartPoint,
) -> dict[str, float]:
    """Stage 3: gradient training for networks, the closed-form fit for laws."""
    t_fit = time.perf_counter()
    if module.trainable:
        logger = RunLogger(  # writes into the open run and leaves ending it to tracked_run
            tracking_uri=mlflow.get_tracking_uri(),
            run_id=run_id,
            experiment_name=cfg.logger.experiment_name,
        )
        info = _fit_network(cfg, module, dm, logger, start)
        if info.get("best_checkpoint") and cfg.logger.get("log_checkpoint", True):
            mlflow.log_artifact(info["best_checkpoint"], "checkpoints")
    else:
        info = {f"fit_{k}": v for k, v in module.fit_closed_form(dm.arrays["train"]).items()}
    seconds = time.perf_counter() - t_fit
    out = {k: float(v) for k, v in info.items() if isinstance(v, int | float)}
    out["fit_seconds"] = seconds
    out["train_samples_per_second"] = module.samples_seen / seconds if module.samples_seen else 0.0
    return out


def _interval_metrics(
    predictor: Predictor, dm: CachedDataModule, pred: np.ndarray, seed: int
) -> dict[str, float]:
    """95 % bootstrap intervals of the test MSE and MAPE over test potentials.

    Each metric is split by potential into a value v_p and a weight w_p
    (:func:`lnet.models.metrics.errors_per_potential`; for the counting MAPE w_p is the
    number of energies with N > 0), and the interval is that of Σ w·v / Σ w over
    resampled potentials: the estimator of the pooled ``test_mape`` and ``test_mse``
    themselves. Values and weights go to ``eval/test_per_potential.json``
    (``{"mse", "mse_weight", "mape", "mape_weight"}``, lists of P) so that reports can
    bootstrap the same estimator over training seeds on the same potentials. A test set
    with no N > 0 has no MAPE and a NaN interval.
    """
    from lnet.models.metrics import errors_per_potential

    test = {k: v[: len(pred)] for k, v in dm.arrays["test"].items()}
    target = test["N"] if predictor.task == COUNTING else test["eigenvalues"]
    per = errors_per_potential(pred, target, predictor.task)
    mlflow.log_dict({k: v.tolist() for k, v in per.items()}, "eval/test_per_potential.json")
    out = {}
    for name in ("mse", "mape"):
        weights = per[f"{name}_weight"]
        lo, hi = (
            bootstrap_interval(per[name], seed=seed, weights=weights)
            if weights.sum() > 0
            else (float("nan"), float("nan"))
        )
        out[f"test_{name}_ci_low"], out[f"test_{name}_ci_high"] = lo, hi
    return out


def evaluate_and_log(
    cfg: DictConfig, module: pl.LightningModule, dm: CachedDataModule, name: str
) -> tuple[dict[str, float], str | None]:
    """Stage 4: final metrics through the user-facing predictor, the baselines and
    generalisation tests of :mod:`lnet.evaluation` (``eval.laws``, ``eval.families``,
    ``eval.sizes`` or ``eval.shapes``, logged by :func:`lnet.tracking.results.log_result`;
    :func:`train` logs their metrics with the others), plots, the model."""
    module.eval()
    # no domain warnings here: eval.families, eval.sizes and eval.shapes leave the
    # training domain on purpose (the net keeps its domain for the logged model)
    predictor = Predictor(module.net)
    predictor.domain = None
    settings = eval_config(cfg, predictor.task)  # before any evaluation work
    stop.check("evaluation")
    cap = settings.max_potentials
    metrics, predictions = evaluate(predictor, dm.arrays, cap)
    if cap is not None:
        mlflow.set_tag("eval.max_potentials", str(cap))
    flat = {f"{split}_{k}": v for split, m in metrics.items() for k, v in m.items()}
    flat.update(_interval_metrics(predictor, dm, predictions["test"], int(cfg.get("seed") or 0)))
    with_plots = bool(cfg.logger.get("plots", True))
    laws: dict[str, Any] = {}
    stop.check("the landscape laws and generalisation sets")

    def logged(result: Any) -> Any:
        log_result(result, figures=with_plots, metrics=False)
        flat.update(result.metrics)
        return result

    if settings.laws:
        laws = logged(evaluate_laws(predictor, dm, predictions["test"], settings.laws)).laws
    if settings.families:
        stop.check("eval.families")
        logged(evaluate_families(predictor, dm, settings.family_entries))
    lattices, potentials, energies = settings.lattice_sets()
    if lattices:
        stop.check("eval.sizes" if dm.spec.dim == 1 else "eval.shapes")
        logged(
            evaluate_lattices(
                predictor, dm, lattices, potentials, energies, name, laws, curve=with_plots
            )
        )
    stop.check("the plots and the model")
    if with_plots:
        log_test_figures(predictor, dm, metrics, predictions["test"], name, laws)
    model_uri = None
    if cfg.logger.get("log_model", True):
        test = dm.arrays["test"]
        example_E = test["E"][:2, :5] if predictor.task == COUNTING else None
        model_uri = log_model(module.net, test["V"][:2], example_E)
        if cfg.get("register"):
            version = register(model_uri, name)
            mlflow.set_tag("lnet.registered", f"{version.name}/{version.version}")
    return flat, model_uri


def _run_name(cfg: DictConfig, name: str, dm: CachedDataModule) -> str:
    """``logger.run_name``, else ``<model>-<dataset>-s<seed>``; a sweep job appends the
    values its sweep varies (``...-s1-model.net.input=V``), so its runs differ by name."""
    if cfg.logger.get("run_name"):
        return str(cfg.logger.run_name)
    base = f"{name}-{dm.spec.name}-s{cfg.seed}"
    swept = (cfg.get("tags") or {}).get("sweep_overrides")
    return f"{base}-{swept}" if swept else base


def train(cfg: DictConfig) -> TrainResult:
    """Run one training job from a composed config (see ``conf/train.yaml``).

    Stages: :func:`build` -> open the MLflow run and log the inputs -> :func:`fit` ->
    :func:`evaluate_and_log`. DDP ranks > 0 only build and fit.
    """
    from lnet.tracking.server import apply_http_settings

    apply_http_settings(cfg.logger.get("http"))  # also for train(cfg) called from Python
    module, dm = build(cfg)
    if process_rank() > 0:
        return _train_worker(cfg, module, dm)
    start = start_point(cfg)
    name = model_name(cfg)
    tags = {
        "model": name,
        "seed": str(cfg.seed),
        **git_info(),
        **{k: str(v) for k, v in (cfg.get("tags") or {}).items()},
    }
    with tracked_run(
        tracking_uri=cfg.logger.tracking_uri,
        experiment_name=cfg.logger.experiment_name,
        artifact_root=cfg.logger.get("artifact_root"),
        run_name=_run_name(cfg, name, dm),
        tags=tags,
        run_id=start.resume_run,
        system_metrics_interval=cfg.logger.get("system_metrics_interval"),
    ) as run:
        run_id = run.info.run_id
        note_run(run_id)
        t_start = time.perf_counter()
        _prepare(cfg, module, dm)
        domain = dm.input_domain()  # train + val (+ data.extra_train): what the model saw
        domain = dataclasses.replace(domain, size_free=is_size_free(module.net))
        _log_inputs(cfg, dm, start, domain)
        n_params = module.num_trainable_parameters()
        mlflow.log_param("trainable_params", n_params)
        metrics = fit(cfg, module, dm, run_id, start)
        module.net.input_domain = domain  # saved with the net (lnet.predict.save_net)
        final, model_uri = evaluate_and_log(cfg, module, dm, name)
        metrics.update(final, trainable_params=float(n_params))
        metrics["wall_seconds"] = time.perf_counter() - t_start
        mlflow.log_metrics(metrics)
        mlflow.set_tag("lnet.model_uri", model_uri or "")
    return TrainResult(run_id, metrics, model_uri, module, dm)
