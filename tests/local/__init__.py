"""Tests of the local SageMaker emulation (a package, so its conftest does not shadow tests/conftest.py)."""
