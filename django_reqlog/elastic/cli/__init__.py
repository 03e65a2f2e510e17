"""What the management commands do, behind their thin ``Command`` classes.

``options`` says where each value comes from; ``setup``, ``check`` and
``report`` each hold one command's arguments and its ``main``; ``console``
runs a ``main`` for a Django command.
"""
