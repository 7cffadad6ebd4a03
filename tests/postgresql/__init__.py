"""PostgreSQL for the tests: Django's backend, flushing tables between transactional tests with
``DELETE`` rather than ``TRUNCATE`` (see ``base.py``)."""
