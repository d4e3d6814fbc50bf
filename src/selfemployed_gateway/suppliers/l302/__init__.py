"""The transitional phase: INASTI's old flow L302 (R-22, R-60, R-63).

`protocol` is the wire format (both sides), `mapping` the conversion table (configuration
data), `conversion` the L302 → v2 career conversion, `adapter` the `Supplier` of the pipeline.
"""
