"""Performance measurements behind ``pipelines/benchmark.py``: reference solvers
(:mod:`.reference`), the measured rows (:mod:`.suite`) and their rendering (:mod:`.timing`)."""

from lnet.benchmarks.reference import (
    dense_count,
    dense_landscape,
    dense_lowest,
    eigsh_count,
    open_chain_count,
    sparse_periodic_hamiltonian,
    spsolve_landscape,
    superlu_count,
)
from lnet.benchmarks.suite import (
    dataset_rows,
    dense_counting_dataset,
    fast_route_rows,
    inference_rows,
    physics_rows,
    scaling_rows,
    two_d_curve_rows,
    two_d_rows,
    whole_curve_rows,
)
from lnet.benchmarks.timing import (
    INFERENCE_COLUMNS,
    NUMERICS_COLUMNS,
    Row,
    best_time,
    machine_summary,
    render,
)

__all__ = [
    "INFERENCE_COLUMNS",
    "NUMERICS_COLUMNS",
    "Row",
    "best_time",
    "dataset_rows",
    "dense_count",
    "dense_counting_dataset",
    "dense_landscape",
    "dense_lowest",
    "eigsh_count",
    "fast_route_rows",
    "inference_rows",
    "machine_summary",
    "open_chain_count",
    "physics_rows",
    "render",
    "scaling_rows",
    "sparse_periodic_hamiltonian",
    "spsolve_landscape",
    "superlu_count",
    "two_d_curve_rows",
    "two_d_rows",
    "whole_curve_rows",
]
