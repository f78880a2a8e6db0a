"""Developer tools run with python -m: calibrate, make_bank, flicker_report."""
