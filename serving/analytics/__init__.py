"""NPS analytics for managers: NPS by group and period (comment themes and monitoring later)."""
