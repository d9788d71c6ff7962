"""The CX manager's figures as pure functions over a Dataset: NPS by group and period,
comment themes with their NPS impact, drivers for coaching (monitoring later)."""
