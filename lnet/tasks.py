"""The two tasks of lnet, one name each for datasets, models, trainers and predictors.

- ``COUNTING``: N_V(E), the number of eigenvalues of H ≤ E, for given energies.
- ``EIGENVALUES``: the k lowest eigenvalues of H.
"""

COUNTING, EIGENVALUES = "counting", "eigenvalues"
TASKS = (COUNTING, EIGENVALUES)
