"""The dashboard's modal screens: help, finding a person, confirming quit."""
