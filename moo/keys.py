"""Names of the attributes moo stores in Optuna storage.

They are the storage format of a moo study: ``moo resume``, ``moo report`` and any
``optuna-dashboard`` user read them, so they change only with a migration.
The sampler's own keys (``moo:sibling_of``, ``moo:propose_s``) live in ``moo.sampler``.
"""

CONFIG_KEY = "moo:config"
"""Study attribute: the validated study YAML (space inlined), enough to resume."""
REFERENCE_KEY = "moo:reference_point"
"""Study attribute: hypervolume reference point (study units), frozen once."""
IDEAL_KEY = "moo:ideal_point"
"""Study attribute: best value per objective when the reference froze; HV normalization."""
STOP_REASON_KEY = "moo:stop_reason"
"""Study attribute: why the last run stopped (``None`` while one runs)."""
RUN_KEY_PREFIX = "moo:run:"
"""Study attributes ``moo:run:<host>:<pid>:<start>``: one record per run of the study
(``moo.liveness``): heartbeat while it runs, then stopped, interrupted or crashed."""
METRICS_KEY = "moo:metrics"
"""Trial attribute: every metric the adapter returned, objectives and others."""
HV_KEY = "moo:hv"
"""Trial attribute: normalized hypervolume of the feasible front once this trial finished."""
ARTIFACTS_KEY = "moo:artifacts"
"""Trial attribute: artifact name -> id in the study's artifact store."""
ERROR_KEY = "moo:error"
"""Trial attribute: the one-line reason a trial failed."""
INFEASIBLE_KEY = "moo:infeasible"
"""Trial attribute: the violated constraints of a config that was never evaluated."""
