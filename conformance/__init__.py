"""The xlosses conformance suite: every public loss on every backend, compared.

Run it with ``python -m conformance`` (see ``--help``).
"""
