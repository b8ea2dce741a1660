"""The hub's top layer (the ``hub`` command and the sample data) and its shared core (``hub.core``)."""
