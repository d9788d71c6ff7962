"""The daily risk list: scoring, control assignment, the store, impact and the list report."""
