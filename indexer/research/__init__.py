"""Research tools over one index version: trends, comparison, similar passages, export.

Each answers what a researcher would otherwise count by hand from a ranked
list, from the searcher's own parts (the passage text scan, the hybrid
scores, the row → document map), so it sees the index exactly as search does.
"""
