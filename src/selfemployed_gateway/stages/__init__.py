"""The stages of the request pipeline, one module each, in the order of specification §3.

`selfemployed_gateway.pipeline` composes them. Each stage either lets the request go on,
answers a status (returns a `Reply`), or answers a fault (raises `GatewayFault`).
"""
