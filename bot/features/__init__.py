"""The features: each module adds its chat words, forms and scheduled words to the engine.

Grouped by domain: `enquiries/`, `projects/`, `retros/`, `tools/`; the rest are one module
each. `registry.register_all` registers them all. This package's `__init__` and its
sub-packages' import nothing, so importing one feature (or the enquiry facts) does not load
every other.
"""
