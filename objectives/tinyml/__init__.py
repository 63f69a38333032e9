"""TinyML objective adapters: real networks trained on real data, compressed and costed.

Load them from a study YAML by dotted name::

    objective:
      adapter: objectives.tinyml:Classifier
      options: {task: digits, devices: [cortex_m0plus, cortex_m4, cortex_m7]}

``Classifier`` covers ``digits`` and ``fsdd`` (keyword spotting), ``AnomalyDetector`` the
``gunpoint`` autoencoder. See ``objectives/tinyml/_adapter.py`` for the metrics.
"""

from objectives.tinyml._adapter import AnomalyDetector, Classifier
from objectives.tinyml._errors import (
    ArchitectureError,
    DataError,
    OptionsError,
    TinyMLError,
    TrainingError,
)

__all__ = [
    "AnomalyDetector",
    "ArchitectureError",
    "Classifier",
    "DataError",
    "OptionsError",
    "TinyMLError",
    "TrainingError",
]
