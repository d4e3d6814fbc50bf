"""The HTTP edge: Twisted resources for the SOAP endpoint and the admin listener."""
