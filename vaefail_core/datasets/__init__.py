"""Internals of ``vaefail_core.data``: the closed forms (``analytic``) and the fitted
surrogate networks (``surrogate``). Import the public API from ``vaefail_core.data``."""
