"""The adapter protocol, re-exported where adapters have always imported it.

The protocol is the engine's (``moo.protocol``); this module keeps ``from
objectives.protocol import TrialResult`` working for every adapter written against it.
"""

from moo import protocol as _protocol
from moo.protocol import *  # noqa: F403  (every public name, and only those)

__all__ = _protocol.__all__
