"""Retros: asking a project's team, answering a prompt, following who answered, and the digest
of the answers. Imports nothing."""
