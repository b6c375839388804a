"""The core: the model GA data is read into, Exponea events and commands, and the rules they share.

Standard library only, so that ``import ga_ee_bridge.core.numbers`` is cheap: no HTTP client, no
database, no marshmallow.
"""
