"""Inputs shared by the tests."""
