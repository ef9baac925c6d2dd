"""Emulator architectures: the DenseNet and its variants, built by name in ``climemu.models.registry``.

No imports here: every stage loads ``models.config`` through ``climemu.config``, and a package's
``__init__`` runs first, so imports here would make every stage depend on the networks."""
