"""The KMb tools: the catalogue in chat and the finder that ranks it against a need. Imports
nothing."""
