"""Everything that turns documents into an index and searches it."""
