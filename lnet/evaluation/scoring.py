"""Score logged counting models, and the landscape laws, on the same generalisation sets:
the library behind ``pipelines/evaluate.py`` (:func:`main`).

Every model is scored on identical sets: ``eval.sizes`` (1-D) or ``eval.shapes`` (2-D)
(:mod:`lnet.evaluation.lattices`) and ``eval.families`` (:mod:`lnet.evaluation.families`),
defined by the data config (law, lattice, energies, test size and data seed), as at the
end of a training run. With none of them given, the data's dimension picks the default
sets (:data:`DEFAULT_SETS`). ``eval.laws`` adds the landscape laws as further columns,
the box law fitted on the data config's training split. Each model and law gets an
MLflow run (tag ``lnet.evaluation=true``; ``model_uri`` or ``law``) with the metrics,
tables and plots; the side-by-side table is printed and written to
``<report_dir>/<stamp>.md`` (start time and process id), with a figure ``<stamp>.png``
(relative error against the lattice per model, test MSE per family set).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lnet.cli import exit_on_config_error, quiet_third_party
from lnet.config import run_stamp
from lnet.errors import ConfigError
from lnet.evaluation.config import EvalConfig, data_dim, eval_config
from lnet.tasks import COUNTING

# the sets scored when no eval.sizes, eval.shapes or eval.families is given, by data.dim
DEFAULT_SETS: dict[int, tuple[str, list[Any]]] = {
    1: ("sizes", [1000, 10000, 100000]),
    2: ("shapes", [[32, 32], [64, 64], [128, 128]]),
}


def apply_default_sets(cfg: DictConfig) -> str | None:
    """Set the default sets of :data:`DEFAULT_SETS` for the data's dimension when no
    set is given; returns the key set (``eval.sizes``, ``eval.shapes``), or None when the
    user gave sets or ``data.dim`` is bad."""
    if any(cfg.eval.get(key) for key in ("sizes", "shapes", "families")):
        return None
    dim = data_dim(cfg)
    if dim is None:
        return None  # the data module names a bad data.dim
    key, value = DEFAULT_SETS[dim]
    cfg.eval[key] = value
    return f"eval.{key}"


def model_labels(cfg: DictConfig, uris: list[str]) -> list[str]:
    """``labels`` (one per model URI), else each URI's run id; distinct, and not ``law_*``."""
    labels = list(cfg.labels) if cfg.get("labels") else []
    if labels and len(labels) != len(uris):
        raise ConfigError("labels", f"needs one label per model ({len(uris)}), got {len(labels)}")
    out = [str(x) for x in labels] or [u.replace("runs:/", "").replace("/model", "") for u in uris]
    for i, label in enumerate(out):
        if label in out[:i] or label.startswith("law_"):
            raise ConfigError(
                f"labels[{i}]", f"{label!r} is taken (labels are distinct; law_* names the laws)"
            )
    return out


def load_counting_model(uri: str, dim: int) -> Any:
    """The model at ``uri`` (a :class:`lnet.predict.Predictor`, without the
    out-of-range warnings of its input domain): a logged model (``runs:/``,
    ``models:/``) or a shipped one (``pretrained:<name>``, :func:`lnet.load_model`);
    ConfigError (key ``models``) unless it is a counting model of the data's lattice
    dimension."""
    import lnet
    from lnet.predict import Predictor

    predictor = lnet.load_model(uri)
    if not isinstance(predictor, Predictor) or predictor.task != COUNTING:
        raise ConfigError("models", f"{uri} is not a counting model")
    if predictor.dim != dim:
        raise ConfigError(
            "models",
            f"{uri} is a {predictor.dim}-D model but the data is {dim}-D (data.dim={dim}); "
            + ("use data=counting_2d" if predictor.dim == 2 else "use 1-D data (data=counting)"),
        )
    predictor.domain = None  # the generalisation sets leave the training domain on purpose
    return predictor


def score(
    cfg: DictConfig,
    settings: EvalConfig,
    predictor: Any,
    label: str,
    dm: Any,
    tags: dict[str, str],
) -> dict[str, float]:
    """One model on every set; metrics, tables and figures go to a new MLflow run."""
    import mlflow

    from lnet.evaluation.families import evaluate_families
    from lnet.evaluation.lattices import evaluate_lattices
    from lnet.tracking.results import log_result
    from lnet.tracking.run import tracked_run

    with tracked_run(
        tracking_uri=cfg.logger.tracking_uri,
        experiment_name=cfg.logger.experiment_name,
        artifact_root=cfg.logger.get("artifact_root"),
        run_name=f"evaluate-{label}",
        tags={"lnet.evaluation": "true", "data.name": dm.spec.name, **tags},
    ):
        mlflow.log_dict(OmegaConf.to_container(cfg, resolve=True), "evaluate_config.json")
        results = []
        if settings.families:
            results.append(evaluate_families(predictor, dm, settings.family_entries))
        lattices, potentials, energies = settings.lattice_sets()
        if lattices:
            results.append(evaluate_lattices(predictor, dm, lattices, potentials, energies, label))
        out: dict[str, float] = {}
        for result in results:
            log_result(result)
            out.update(result.metrics)
    return out


def fitted_laws(settings: EvalConfig, dm: Any) -> dict[str, tuple[Any, dict[str, float]]]:
    """The laws of ``eval.laws``, fitted on the data config's training split (built or
    read from the cache), as label ``law_<name>`` -> (predictor, fitted parameters)."""
    from lnet.evaluation.laws import fit_laws
    from lnet.predict import Predictor

    if not settings.laws:
        return {}
    dm.prepare_data()
    dm.setup()
    fitted = fit_laws(settings.laws, dm.arrays["train"], dm.spec.dim)
    return {f"law_{name}": (Predictor(law), params) for name, (law, params, _) in fitted.items()}


def write_report(results: dict[str, dict[str, float]], path: Path) -> str:
    """Side-by-side Markdown table (one column per model, one row per ``*rel_err`` and
    ``*_mse`` metric), written atomically to ``path``; returns its text."""
    keys = sorted({k for r in results.values() for k in r if k.endswith(("rel_err", "_mse"))})
    lines = ["| metric | " + " | ".join(results) + " |", "|---" * (len(results) + 1) + "|"]
    for k in keys:
        cells = [f"{r[k]:.4g}" if k in r else "n/a" for r in results.values()]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return text


def report_figure(results: dict[str, dict[str, float]], path: Path) -> bool:
    """The report's figure (:func:`lnet.tracking.plots.report_figure`) written atomically
    to ``path``; False (no file) when there is nothing to draw."""
    from lnet.tracking import plots

    fig = plots.report_figure(results)
    if fig is None:
        return False
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plots.plt.close(fig)
    tmp.replace(path)
    return True


def run(cfg: DictConfig) -> dict[str, dict[str, float]]:
    """``pipelines/evaluate.py`` on a composed ``conf/evaluate.yaml``: every model of
    ``models`` and every law of ``eval.laws`` scored on the same sets; prints the table
    and where the report and figure are; returns the metrics by label."""
    import hydra
    from rich.table import Table

    from lnet.cli import console as cli_console

    uris = [str(u) for u in cfg.models or []]
    if not uris and not cfg.eval.get("laws"):
        raise ConfigError(
            "models",
            "give at least one model URI, e.g. 'models=[runs:/<id>/model]' (or eval.laws)",
        )
    console = cli_console()
    default_key = apply_default_sets(cfg)
    settings = eval_config(cfg, COUNTING)
    if default_key:
        value = OmegaConf.to_container(OmegaConf.select(cfg, default_key))
        console.print(f"sets: {default_key}={value} (the default for this data)")
    dm = hydra.utils.instantiate(cfg.data, show_progress=False)  # the sets' definition
    labels = model_labels(cfg, uris)
    models = [
        (uri, label, load_counting_model(uri, dm.spec.dim))
        for uri, label in zip(uris, labels, strict=True)
    ]
    results: dict[str, dict[str, float]] = {}
    for uri, label, predictor in models:
        results[label] = score(cfg, settings, predictor, label, dm, {"model_uri": uri})
    for label, (predictor, params) in fitted_laws(settings, dm).items():
        law_tags = {"law": label.removeprefix("law_")}
        law_tags.update({f"law.{k}": f"{v:.17g}" for k, v in params.items()})
        results[label] = score(cfg, settings, predictor, label, dm, law_tags)
    path = Path(cfg.report_dir) / f"{run_stamp()}.md"
    text = write_report(results, path)
    table = Table(title=f"generalisation, data {dm.spec.name}")
    table.add_column("metric")
    for label in results:
        table.add_column(label, justify="right")
    for line in text.splitlines()[2:]:
        table.add_row(*[c.strip() for c in line.strip("|").split("|")])
    console.print(table)
    console.print(f"report: {path}", markup=False)
    if report_figure(results, path.with_suffix(".png")):
        console.print(f"figure: {path.with_suffix('.png')}", markup=False)
    return results


@exit_on_config_error
def main(cfg: DictConfig) -> None:
    """:func:`run` as a command line: a config error is one line and exit status 2
    (:func:`lnet.cli.exit_on_config_error`). ``pipelines/evaluate.py`` wraps it in
    ``hydra.main``."""
    quiet_third_party()
    run(cfg)
