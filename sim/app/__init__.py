"""The interactive explorer: a Mesa SolaraViz page for one replication and small ensembles.

``controls`` turns a scenario into page inputs, ``explorer`` builds the R = 1 model from them,
``views`` draws it, and ``page`` puts them together for ``sim app``.
"""
