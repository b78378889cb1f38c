"""HTTP: blueprints that parse with pydantic, call one service and return a dict."""
