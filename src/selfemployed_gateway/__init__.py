"""selfemployed-gateway: the BCSS SelfEmployedService v2 (SPEC-DIGEST R-01 … R-83)."""

__version__ = "0.1.0"
