"""The ``hipec`` command line: one module per command group, no domain logic of its own."""
