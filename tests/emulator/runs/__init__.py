"""Tests of the local SageMaker emulation.

A package, so that its conftest is not imported as `conftest` in place of tests/conftest.py.
"""
