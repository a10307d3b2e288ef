"""The dashboard's widgets, one per module; each draws part of a DashboardModel."""
