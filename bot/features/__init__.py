"""The features: each module adds its chat words, forms and scheduled words to the engine.

`registry.register_all` registers them all. This package's own module imports nothing, so
importing one feature (or the enquiry facts) does not load every other.
"""
