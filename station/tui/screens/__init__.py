"""The dashboard's modal screens: help, finding a person, the fleet, confirming quit."""
