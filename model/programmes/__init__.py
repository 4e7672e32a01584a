"""Programmes: the base class (:mod:`model.programmes.base`) and the measures
of the seed plans (:mod:`model.programmes.measures`, catalogue ``PROGRAMMES``)."""
