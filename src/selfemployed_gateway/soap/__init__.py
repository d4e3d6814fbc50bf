"""The SOAP 1.1 edge (R-01 … R-08, R-80 … R-83): envelopes, spyne models, faults, contract."""
