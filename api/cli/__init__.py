"""The `callvault` command line: thin commands over the application services."""
