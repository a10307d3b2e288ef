"""Prometheus metrics of the station daemon (``[metrics]`` in the configuration).

``settings`` (the configuration section), ``labels`` (bounded label values), ``registry`` (every metric),
``listener`` (the event bus → metrics), ``graph`` (Graph answers and calls), ``service`` (what the daemon
starts: the registry, its listener, the HTTP endpoint and the textfile).
"""
