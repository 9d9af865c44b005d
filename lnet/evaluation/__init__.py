"""The evaluation of a trained counting model beyond its own test split, written once
for every lattice dimension.

Configured by the ``eval`` config group (``conf/eval/default.yaml``, typed by
:class:`lnet.evaluation.config.EvalConfig`); each evaluation is a pure function that
returns a result object, and :func:`lnet.tracking.results.log_result` logs any of them
to MLflow (metrics, tables, figures):

- ``eval.laws=[box, weyl_continuum, weyl_lattice, weyl_torus, weyl_shifted, kpm]``
  (:mod:`lnet.evaluation.laws`): the landscape laws as baselines on the model's own test
  set, the box law fitted on the training split exactly as ``model=box_counting``
  (``box_counting_2d``) fits it, the shifted Weyl law's constant fitted there too, and
  the kernel polynomial method (``kpm``, from V).
  Metrics ``test_rel_err`` (the model), ``law_<name>_test_{mse,mae,mape,rel_err}``,
  ``law_box_c1``, ``law_box_c2``; table ``eval/laws.json``.
- ``eval.families=[...]`` (:mod:`lnet.evaluation.families`): a fresh test set per
  entry, a family name or a mapping ``{family: uniform, amplitude: 20, label: ...}``, at
  the training lattice, energies, test size and data seed. Metrics
  ``family_<label>_test_{mse,mae,mape,rel_err,mse_ci_low,mse_ci_high}``; table
  ``family_generalization.json`` (with ``held_out``); ``plots/family_generalization.png``.
- ``eval.sizes=[n1, n2, ...]`` (1-D data) or ``eval.shapes=[[L1, L2], ...]`` (2-D data)
  (:mod:`lnet.evaluation.lattices`): a fresh test set per lattice from the training law
  and data seed (:func:`lnet.data.test_sets.lattice_test_set`), E uniform in
  [0, λ_⌈0.1·sites⌉], exact counts. Metrics ``size_<n>_test_*`` (1-D) or
  ``shape_<L1>x<L2>_test_*`` (2-D) and, with ``eval.laws``, ``..._law_<name>_rel_err``;
  table ``generalization/sizes.json`` or ``shapes.json``; plots
  ``plots/rel_error_vs_n.png`` / ``rel_error_vs_shape.png`` and the counting curve of
  the largest lattice.

:mod:`lnet.evaluation.scoring` scores several logged models on the same sets
(``pipelines/evaluate.py``). Importing this package imports nothing heavy: the config
schema is registered with Hydra before any config is composed (:mod:`lnet.config`).
"""
