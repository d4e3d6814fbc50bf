"""selfemployed-gateway: the BCSS SelfEmployedService v2 (docs/specification.md, R-01 … R-83)."""

__version__ = "0.1.0"

# Before anything imports spyne: its vendored six needs a finder on Python 3.12+.
from selfemployed_gateway import spyne_compat as _spyne_compat

_spyne_compat.install()
