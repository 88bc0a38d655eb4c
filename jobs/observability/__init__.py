"""Observability of the engine: what each attempt cost (``usage``), the Prometheus endpoint
(``collector``, ``views``), and the worker and actor pages (``selectors``, ``views``, ``apis``)."""
