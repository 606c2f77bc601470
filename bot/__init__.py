"""kmb: a chat assistant for knowledge mobilisation in NHS teams."""

__version__ = "0.1.0"
