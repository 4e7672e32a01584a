"""Registries: tables and their schema (:mod:`~model.registry.tables`), files
(:mod:`~model.registry.files`), specs (:mod:`~model.registry.spec`, ``specs/``),
synthesis from published aggregates (:mod:`~model.registry.synth`) and
iterative proportional fitting (:mod:`~model.registry.ipf`)."""
