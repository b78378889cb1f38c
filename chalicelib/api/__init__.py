"""HTTP: route modules that parse with pydantic, call one service and return a dict; `wiring` registers them."""
