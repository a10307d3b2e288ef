"""Headless feedback: what the station's LEDs, its speaker and the key's own light tell the technician.

``FeedbackController`` (controller.py) listens to the event bus; leds.py writes the Linux LED class,
patterns.py holds the patterns and plays them, priority.py picks the most urgent slot, sound.py makes
and plays the tones, wink.py makes a USB key flash.
"""

from station.feedback.controller import FeedbackController

__all__ = ["FeedbackController"]
