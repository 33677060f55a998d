"""What turns desired state and live state into a plan, and a plan into registry writes:
``sources``, ``planner``, ``apply``, ``delete``, ``concurrency``. Imports ``values``,
``config.model``, ``plan`` and the registry's interface (``registry.api``,
``registry.errors``) only, never its HTTP implementation: the CLI wires that in.
"""
