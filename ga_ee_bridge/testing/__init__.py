"""Testing your tracking: a local Exponea server, hypothesis strategies, and a pytest plugin.

Install with the extra: ``pip install 'ga-ee-bridge[testing]'``. :class:`ExponeaServer` needs only
the standard library; :mod:`ga_ee_bridge.testing.strategies` needs hypothesis, and the pytest
plugin (fixture ``exponea_server``) registers itself through a ``pytest11`` entry point.
"""

from ga_ee_bridge.testing.server import MAX_BATCH_COMMANDS, ExponeaServer, Fault, RecordedRequest

__all__ = ["MAX_BATCH_COMMANDS", "ExponeaServer", "Fault", "RecordedRequest"]
