"""Scheduled work: the jobs the server runs and the views worker process."""
