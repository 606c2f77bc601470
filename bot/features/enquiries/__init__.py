"""Enquiries to the library: the form, the queue, the card, the librarian's desk, promises kept,
figures for returns, and the library teams they are routed to. Imports nothing."""
