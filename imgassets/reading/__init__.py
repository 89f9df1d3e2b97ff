"""What users read: queries across all time, the viewer's search, compare and source pages, and the query endpoint
that serves them to the viewer's server (server). No Dagster here."""
