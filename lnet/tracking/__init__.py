"""MLflow records of runs: lifecycle, config, plots, model flavour."""
