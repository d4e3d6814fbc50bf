"""Built-in simulators of the gateway's partners, for development and tests."""
