"""Validation of the model against what happened (issue 13).

Observations files, proper scores, the crisis library's skill table, uncertain assumptions
and calibration.
"""
