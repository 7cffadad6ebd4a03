"""The parity suite's app: one model and serializer, mounted on adrf's viewset and router and on
this package's, so that tests/test_parity_adrf.py can compare their answers."""
