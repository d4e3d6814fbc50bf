"""The final phase: INASTI's SelfEmployedService v1 (R-22, R-61).

`protocol` is the wire format (both sides), `adapter` the `Supplier` of the pipeline.
"""
