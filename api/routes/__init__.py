"""The routers of the API, one file per area; `api.app.create_app` mounts them under /api/v1."""
