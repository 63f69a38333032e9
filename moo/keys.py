"""Names of the attributes moo stores in Optuna storage.

They are the storage format of a moo study: ``moo resume``, ``moo report`` and any
``optuna-dashboard`` user read them, so they change only with a migration. All of them
live here, the sampler's and the re-queue's included, so that reading a study
(``moo status``, ``pareto``, ``export``, ``report``) imports neither torch nor BoTorch.
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
SIBLING_KEY = "moo:sibling_of"
"""Trial attribute of trials added for free next to a proposed one (not proposals)."""

PROPOSE_SECONDS_KEY = "moo:propose_s"
"""System attribute: seconds the sampler spent on the trial's proposal."""
ACQ_VALUE_KEY = "moo:acq_value"
"""System attribute: the acquisition value of the proposal (log EHVI for qLogNEHVI)."""
GP_STATE_KEY = "moo:gp_hyperparameters"
"""System attribute: the GP hyperparameters fitted for the trial's proposal. The next
proposal starts its fit from the latest of them; kept in the storage, not the sampler,
so a resumed study warm-starts exactly as the uninterrupted one did."""
PROPOSAL_SEED_KEY = "moo:proposal_seed"
"""System attribute: the seed of the trial's BO proposal (random restarts, MC samples),
derived from the sampler's seed and the proposal's index in the study."""
PROPOSAL_ERROR_KEY = "moo:proposal_error"
"""System attribute: why the trial got a quasi-random config instead of a BO proposal."""

RETRY_OF_KEY = "failed_trial"
"""System attribute (Optuna's): number of the first crashed trial a copy stands for."""
RETRY_HISTORY_KEY = "retry_history"
"""System attribute (Optuna's): numbers of every crashed trial of the copy's chain."""
EVALUATION_CRASHES_KEY = "moo:evaluation_crashes"
"""System attribute: how often the chain's config was being evaluated when its process died."""
