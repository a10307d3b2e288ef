"""The dashboard (Textual): kiosk and monitor views, attached in-process or through the control socket."""
