"""The papers a resident holds: their values, their layout as PDF (A4 or A5, the same bytes for the same
values), what they print read from the rows (the dossier), the stamp a sealed paper shows, and the one
print font (`fonts/`), embedded as a subset of the characters a paper uses."""
