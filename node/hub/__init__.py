"""What hubs alone do: a county's or city's dashboard, its filters and its CSV exports."""
