"""The leads' side: the weekly figures, their Block Kit, the chart, sending, and the stats."""
