"""Projects: creating one (the form and its members), changing it, and finding one a person
may see. Imports nothing."""
