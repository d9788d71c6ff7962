"""The HTTP API: app factory, one router per resource, auth, bodies, schemas, middleware, state."""
