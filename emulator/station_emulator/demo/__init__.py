"""``station demo``: the whole station against the emulators (runner.py) with a scripted technician
(technician.py). Never used on the production path."""

from station_emulator.demo.runner import DemoOptions, DemoResult, run_demo

__all__ = ["DemoOptions", "DemoResult", "run_demo"]
