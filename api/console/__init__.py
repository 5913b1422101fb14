"""The web console: templates and static assets."""
