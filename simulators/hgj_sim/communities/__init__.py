"""Built-in community files (YAML). Copy one to describe a new community."""
