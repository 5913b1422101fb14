"""What several test modules share: clients, fakes, data builders and the servers the tests start.

Test modules import from here, never from one another or from a conftest.py
(a conftest holds fixtures only, and pytest finds those by name).
"""
