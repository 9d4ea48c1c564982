"""The index version: its folder layout and the typed object a catalog opens."""
