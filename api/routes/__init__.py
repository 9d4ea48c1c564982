"""One module per resource; :mod:`api.main` mounts them."""
