"""The model card of a pretrained model: ``card.json`` (machine-readable) and ``card.md``
(the same as Markdown), written by ``pipelines/pretrained.py build`` from measured
numbers only.

``card.json`` keys:

- ``name``, ``format_version``, ``summary`` (one line), ``dim``, ``task``, ``class``;
- ``members``: per member net its ``file``, training ``seed``, MLflow ``run_id``,
  ``commit`` and ``dirty`` (tags ``git.commit``, ``git.dirty`` of the run), and
  ``fine_tuned_from``: the run whose checkpoint it started from (tag
  ``lnet.parent_run`` of a ``ckpt_path=`` fine-tune; None for a run trained from scratch);
- ``training``: ``command``, ``commits``, ``run_ids``, ``law`` (``data.potential``),
  ``law_source`` (the runs' config, or ``--cal-law``), ``laws`` (its families; the
  measurement sets' "trained on" laws), ``amplitudes`` (per family), ``lattices``, ``fraction``
  (E uniform in [0, λ_⌈f·sites⌉]), ``data_seeds`` (the training data's seeds);
- ``validity``: the input domain (:meth:`lnet.domain.InputDomain.to_dict`) and the
  ``accepted`` range of each statistic: outside it the model warns (OutOfRangeWarning);
- ``point``: the count's rule, ``integer_below`` (:mod:`lnet.ensemble`; absent in older
  cards: 0, the plain mean);
- ``interval``: the calibration (:class:`lnet.conformal.IntervalCalibration`: level,
  κ, γ, δ, q, n_cal, score) and its ``guarantee`` in words;
- ``calibration_sets``, ``measurement_sets``: each set's :class:`SetSpec` (law,
  lattice, potentials, energies, seed, fraction) and, for measurement sets, its
  ``metrics`` (:func:`lnet.pretrained.measure.measure`);
- ``coverage``: label -> lattice key -> measured coverage (the measurement sets' numbers);
- ``experts`` (a model with experts only, :mod:`lnet.routing`): per expert its
  ``name``, ``gate`` (law, alpha), ``summary`` and ``build_run``; the measurement sets'
  metrics are then those of the model with its experts, with ``expert_share`` (the
  fraction of potentials an expert answered) and, where it is above 0, ``generalist``
  (coverage, rel_err, mse of the members alone);
- ``build``: the MLflow experiment and run id of the build, lnet's version, the date.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lnet.domain import InputDomain

GUARANTEE = (
    "split conformal with one quantile per calibration lattice (and, where calibrated, per "
    "zero-site class of the potential: some V = 0 or none): P(N in [low, high]) >= "
    "{level:g} for a fresh (potential, energy) pair drawn like the calibration pairs of "
    "any one calibration lattice (the training law on that lattice, E uniform in [0, "
    "lambda_ceil(f*sites)]; of that class), marginal over those pairs; not conditional on "
    "a law, amplitude or energy, and not guaranteed for other laws or lattices (another "
    "lattice gets the quantile of the calibration lattice nearest in log(sites); the "
    "model card reports those as measured)"
)


def _quantile_text(r: Mapping[str, Any]) -> str:
    return f"q = {r['q']:.4g} (the {ordinal(r['rank'])} smallest of its {r['n']} scores)"


def lattice_quantiles(interval: Mapping[str, Any]) -> list[str]:
    """The card's lines for the per-lattice (and per zero-site class) quantiles, none for a
    calibration without them: the q an input on each calibration lattice gets."""
    rows = interval.get("lattice_q") or []
    if not rows:
        return []
    pooled = [r for r in rows if r.get("zero_sites") is None]
    cells = [r for r in rows if r.get("zero_sites") is not None]
    lines = [
        "",
        "The interval takes the quantile of the input's lattice: "
        + "; ".join(f"{_quantile_text(r)} on {r['sites']} sites" for r in pooled)
        + ". Another lattice takes that of the calibration lattice nearest in log(sites); "
        "q above pools every lattice.",
    ]
    if cells:
        lines += [
            "",
            "Within a lattice, a potential with a zero site (V(x) = 0 somewhere) and one "
            "without take the quantile of their own cell, where the cell had enough "
            "calibration pairs:",
            "",
            "| lattice | class | q | pairs |",
            "|---|---|---:|---:|",
            *(
                f"| {r['sites']} sites | {'some V = 0' if r['zero_sites'] else 'V > 0'} | "
                f"{r['q']:.4g} | {r['n']} |"
                for r in cells
            ),
        ]
    return lines


def validity(domain: InputDomain | None) -> dict[str, Any]:
    """The card's ``validity``: the input domain (:meth:`InputDomain.to_dict`) and the
    ``accepted`` [low, high] of each statistic (high null: no upper bound, a size-free
    model's lattice sizes); both None for members without a domain."""
    if domain is None:
        return {"input_domain": None, "accepted": None}
    return {
        "input_domain": domain.to_dict(),
        "accepted": {
            k: [r.low, r.high if math.isfinite(r.high) else None]
            for k, r in domain.accepted().items()
        },
    }


def ordinal(k: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``28th``, ``111th``."""
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def lattice_text(lattice: list[int]) -> str:
    """``n = 1000`` or ``32×32``."""
    return f"n = {lattice[0]}" if len(lattice) == 1 else "×".join(str(s) for s in lattice)


def summary_line(card: Mapping[str, Any]) -> str:
    """One line: dimension, members, training law and lattices, measured coverage."""
    train = card["training"]
    cov = [v for per in card.get("coverage", {}).values() for v in per.values() if v is not None]
    span = f"{min(cov):.1%}–{max(cov):.1%}" if cov else "not measured"
    level = card["interval"]["level"]
    laws = ", ".join(train.get("laws") or []) or "?"
    lattices = " + ".join(lattice_text(t) for t in train.get("lattices") or []) or "?"
    return (
        f"{card['dim']}-D {card['class'].rsplit('.', 1)[-1]}, {len(card['members'])} members; "
        f"trained on {laws} at {lattices}; {level:.0%} intervals, measured coverage {span} "
        f"over {len(card.get('coverage', {}))} laws"
    )


def _fmt(x: Any, spec: str = ".3g") -> str:
    return "–" if x is None else format(x, spec)


def _ci(pair: Any, spec: str = ".3g") -> str:
    if not pair or pair[0] is None:
        return ""
    return f"[{format(pair[0], spec)}, {format(pair[1], spec)}]"


def _member_table(members: list[dict[str, Any]]) -> list[str]:
    """The members as Markdown rows; a "fine-tuned from" column when any member was
    fine-tuned from another run's checkpoint."""
    tuned = any(m.get("fine_tuned_from") for m in members)
    head = "| member | seed | run | commit |" + (" fine-tuned from |" if tuned else "")
    rows = [head, "|---" * (5 if tuned else 4) + "|"]
    for m in members:
        row = (
            f"| `{m['file']}` | {m['seed']} | `{m['run_id']}` | `{m['commit'][:12]}`"
            f"{' (dirty)' if m['dirty'] == 'true' else ''} |"
        )
        if tuned:
            parent = m.get("fine_tuned_from")
            row += f" `{parent}` |" if parent else " (from scratch) |"
        rows.append(row)
    return rows


def _experts_section(card: Mapping[str, Any]) -> list[str]:
    """The Experts section (none without experts): who they are, their gates, and on the
    measurement sets they answered, the numbers with and without them."""
    experts = card.get("experts") or []
    if not experts:
        return []
    lines = [
        "## Experts",
        "",
        "Each potential goes to the first expert whose gate accepts it and whose input "
        "domain holds it (`lnet.routing`); the others to this model's members. A gate tests "
        "that the potential is consistent with i.i.d. draws of the expert's training law: "
        "Kolmogorov–Smirnov on the site values and the lag-1 autocorrelation of "
        "neighbours, each at level alpha (`lnet.gate`). The expert answers with its own "
        "members and calibrated interval.",
        "",
        "| expert | gate law | alpha | its card |",
        "|---|---|---:|---|",
    ]
    for e in experts:
        lines.append(
            f"| `{e['name']}` | `{json.dumps(e['gate']['law'])}` | {e['gate']['alpha']:g} | "
            f"{e.get('summary') or ''} (build `{e.get('build_run')}`) |"
        )
    rows = [s for s in card["measurement_sets"] if (s["metrics"].get("expert_share") or 0) > 0]
    if rows:
        lines += [
            "",
            "On the measurement sets the experts answered (in part), this model with its "
            "experts and its members alone, on the same pairs:",
            "",
            "| law | lattice | by an expert | MSE | members alone | rel. error | members "
            "alone | coverage | members alone |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for s in rows:
            m, g = s["metrics"], s["metrics"].get("generalist") or {}
            lines.append(
                f"| {s['label']} | {lattice_text(s['lattice'])} | "
                f"{_fmt(m['expert_share'], '.0%')} | {_fmt(m['mse'])} | {_fmt(g.get('mse'))} | "
                f"{_fmt(m['rel_err'], '.3f')} | {_fmt(g.get('rel_err'), '.3f')} | "
                f"{_fmt(m['coverage'], '.1%')} | {_fmt(g.get('coverage'), '.1%')} |"
            )
    return [*lines, ""]


def _rounding(card: Mapping[str, Any]) -> str:
    """The Use paragraph's words for the count's rounding rule (none when off)."""
    below = (card.get("point") or {}).get("integer_below") or 0.0
    if not below > 0:
        return ""
    return (
        f", rounded to the nearest whole number of states where that mean is below {below:g} "
        "(the bottom of the spectrum: `predict_counts(V, E, integer_below=0)` turns it off), "
        "and the interval widened to contain it where need be"
    )


def render_markdown(card: Mapping[str, Any]) -> str:
    """``card.md``: the card as Markdown, from ``card.json``'s numbers only."""
    name, train, interval = card["name"], card["training"], card["interval"]
    level = interval["level"]
    routed = bool(card.get("experts"))
    lines = [
        f"# Model card: {name}",
        "",
        card["summary"],
        "",
        "## Use",
        "",
        "```python",
        "import lnet",
        "",
        f'model = lnet.load_model("pretrained:{name}")  # or lnet.pretrained.load("{name}")',
        "count, low, high = model.predict_counts(V, E, return_interval=True)",
        "```",
        "",
        f"`count` is the mean of the {len(card['members'])} member nets (the training seeds)"
        f"{_rounding(card)}; "
        f"`[low, high]` the calibrated {level:.0%} interval. A potential outside the validity "
        "range below gets an `OutOfRangeWarning` (once per statistic)."
        + (
            " A potential that one of its experts takes (below, Experts) gets that "
            "expert's count and interval instead; "
            f'`lnet.pretrained.load("{name}", experts=False)` gives the members alone.'
            if routed
            else ""
        ),
        "",
        "## Training",
        "",
        f"- command: `{train['command']}`",
        f"- commit(s): {', '.join(f'`{c}`' for c in train['commits'])}",
        f"- MLflow runs: {', '.join(f'`{r}`' for r in train['run_ids'])}",
        f"- law ({train['law_source']}): `{json.dumps(train['law'])}`",
        f"- families: {', '.join(train['laws'])}",
        f"- amplitudes: {', '.join(f'{k}: `{json.dumps(v)}`' for k, v in train['amplitudes'].items())}",
        f"- lattices: {', '.join(lattice_text(t) for t in train['lattices']) or 'not recorded'}",
        f"- energies: uniform in [0, λ_⌈{train['fraction']:g}·sites⌉]",
        "",
        *_member_table(card["members"]),
        "",
        "## Validity range (the input domain)",
        "",
        "The range of the training inputs, per potential statistic; the model warns outside "
        "the accepted range (observed range widened by the domain's margin and tolerance, "
        "see `lnet.domain`). `count_fraction` is N(E)/sites over the training (potential, "
        "energy) pairs: a pair whose predicted count passes the accepted fraction lies above "
        "the training energies, and is warned about too.",
        "",
        "| statistic | observed | accepted |",
        "|---|---|---|",
    ]
    validity = card.get("validity") or {}
    domain = validity.get("input_domain")
    if domain:
        for stat, r in domain["ranges"].items():
            low, high = validity["accepted"][stat]
            upper = "∞)" if high is None else f"{high:.4g}]"  # None: no upper bound
            lines.append(f"| {stat} | [{r['min']:.4g}, {r['max']:.4g}] | [{low:.4g}, {upper} |")
    else:
        lines.append("| (the member nets carry no input domain) | | |")
    lines += [
        "",
        "## Interval",
        "",
        f"Split conformal with the normalised score `{interval['score']}` "
        f"({interval['definition']}): κ = {interval['kappa']:.4g}, γ = {interval['gamma']:g}, "
        f"δ = {interval.get('delta', 0.0):g}, "
        f"q = {interval['q']:.4g}, the {ordinal(interval['rank'])} smallest of n = {interval['n_cal']} "
        "calibration scores (rank ⌈(n + 1)·level⌉). κ, γ and δ were chosen on a disjoint "
        "selection half of the calibration pairs (`calibration.json`)."
        + (
            f" The count is a whole number below {interval['integer_below']:g} states and the "
            "interval always contains it, so a pair whose rounded count is exact scores 0: "
            "q is calibrated for the interval as returned."
            if (interval.get("integer_below") or 0) > 0
            else ""
        ),
        *lattice_quantiles(interval),
        "",
        f"Guarantee: {card['interval']['guarantee']}.",
        "",
        "Calibration sets (fresh, never training, validation or test data):",
        "",
        "| lattice | potentials | energies each | seed |",
        "|---|---|---|---|",
        *(
            f"| {lattice_text(s['lattice'])} | {s['potentials']} | {s['energies']} | {s['seed']} |"
            for s in card["calibration_sets"]
        ),
        "",
        *_experts_section(card),
        "## Measured on fresh sets",
        "",
        "Per law and lattice, fresh potentials (seeds in `card.json`), E uniform in "
        f"[0, λ_⌈{train['fraction']:g}·sites⌉], exact counts. Coverage: the fraction of "
        "pairs with low ≤ N ≤ high; rel. error: mean |count − N| / max(N, 1); width: mean "
        "(high − low) / max(N, 1); in domain: the fraction of potentials inside the "
        "accepted range (every statistic, the number of sites included: a lattice smaller "
        "than the training lattices, or for a fixed-size model any other lattice, is out of "
        "domain however good the counts). Brackets: 95 % "
        "bootstrap intervals over potentials.",
        "",
        "| law | trained on | lattice | pairs | coverage | 95 % CI | rel. error | 95 % CI "
        "| MSE | 95 % CI | width | in domain |" + (" by an expert |" if routed else ""),
        "|---|---|---|---:|---:|---|---:|---|---:|---|---:|---:|" + ("---:|" if routed else ""),
    ]
    for s in card["measurement_sets"]:
        m = s["metrics"]
        share = f" {_fmt(m.get('expert_share'), '.0%')} |" if routed else ""
        lines.append(
            f"| {s['label']} | {'yes' if s['in_training'] else 'held out'} | "
            f"{lattice_text(s['lattice'])} | {m['pairs']} | {_fmt(m['coverage'], '.1%')} | "
            f"{_ci(m['coverage_ci'], '.1%')} | {_fmt(m['rel_err'], '.3f')} | "
            f"{_ci(m['rel_err_ci'], '.3f')} | {_fmt(m['mse'])} | {_ci(m['mse_ci'])} | "
            f"{_fmt(m['rel_width'], '.3f')} | {_fmt(m['in_domain'], '.0%')} |{share}"
        )
    build = card.get("build") or {}
    lines += [
        "",
        "## Build",
        "",
        f"Built by `python pipelines/pretrained.py build` on {build.get('date', '?')} "
        f"(lnet {build.get('lnet_version', '?')}), MLflow experiment "
        f"`{build.get('experiment', '?')}`, run `{build.get('run_id', '?')}`"
        + (
            f"; calibrated and measured again from the shipped member files (`--from-folder`), "
            f"replacing build run `{build['rebuilt_from']}`."
            if build.get("rebuilt_from")
            else "."
        ),
        "",
    ]
    return "\n".join(lines)
