"""The application layer: one module per use-case family, called alike by HTTP, the CLI and jobs."""
