"""The HTTP adapter: Litestar controllers, request context, problem details."""
