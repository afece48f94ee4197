"""ASGI middleware wrapped around every route: request context, CORS, auth, body limits, content type."""
